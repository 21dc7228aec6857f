"""amili-etl: Nordic bank and invoice files in, exactly-once Amili deliveries and a reconciled report out."""

import os

__version__ = "0.1.0"

# polars starts its allocator (jemalloc) with dirty_decay_ms:500,muzzy_decay_ms:1000 (pola-rs/polars#18088: memory
# held by long-lived processes), then appends what this variable says, and later entries win. A nightly run's
# million-row frames free and take the same memory again within seconds, and handing it back in between costs a page
# fault per 4 KB: keeping freed pages for 10 s takes 1.1M faults and a fifth of matching's time off the 1M-payment
# bench (docs/performance.md). Read when polars is imported, so this runs first; a value the operator set wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:10000,muzzy_decay_ms:10000")
