"""Deliver outbox items to Amili exactly once: each endpoint by its own semantics, every answer recorded.

Documents go first (payments may point at them). Per endpoint (docs/delivery.md):
- ARM documents: single POSTs for small runs, else /documents/batches in chunks, polled until 200/206;
- ARM payment reservations: one per request, `concurrency` at a time under the rate limit;
- ARM autopostings: all-or-nothing batches; failing postings isolated, innocent BATCH-REJECTED ones resent;
- Collection payments: chunks under an Idempotency-Key, polled until SUCCESS / PARTIAL / FAILED;
- ADA creditor payments: single POSTs, or bulk lists with the same isolation (`http.ada_batch_size`).
An item whose earlier attempt may have got through (state sent / acknowledged / unknown) is looked up first.
"""

from etl.amili.delivery.dry_run import describe_plan, dry_run_report
from etl.amili.delivery.engine import ORDER, DeliveryReport
from etl.amili.delivery.entry import deliver, deliver_pending

__all__ = ["DeliveryReport", "deliver", "deliver_pending", "describe_plan", "dry_run_report", "ORDER"]
