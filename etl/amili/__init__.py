"""The Amili client: transport and auth, one module per API family, the outbox and exactly-once delivery."""

from etl.amili.delivery import DeliveryReport, deliver, deliver_pending, describe_plan, dry_run_report
from etl.amili.outbox import APIS, record_intents
from etl.amili.progress import Progress

__all__ = ["APIS", "DeliveryReport", "Progress", "deliver", "deliver_pending", "describe_plan", "dry_run_report",
           "record_intents"]
