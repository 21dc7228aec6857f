"""The Amili client: transport and auth, one module per API family, the outbox and delivery."""

from etl.amili.deliver import DeliveryReport, deliver
from etl.amili.outbox import APIS, record_intents

__all__ = ["APIS", "DeliveryReport", "deliver", "record_intents"]
