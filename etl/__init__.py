"""amili-etl: Nordic bank and invoice files in, exactly-once Amili deliveries and a reconciled report out."""

__version__ = "0.1.0"
