"""Reporter: consumes the report queue and POSTs each delivery report, signed, to its endpoints
(docs/contract.md section 8). A report not taken is retried later and later (its visibility moved on each
receive), for more than 24 hours, then the queue moves it to its dead-letter queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from notify.batch import queue_function
from notify.caches import per_container

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from notify.logic.providers.webhooks import HttpClient


@per_container
def http() -> HttpClient:
    from notify.logic.providers.webhooks import HttpClient
    from notify.settings import get_settings

    return HttpClient(timeout=get_settings().webhook_timeout_seconds)


def report_record(record: SQSRecord) -> None:
    """One report; raising reports it as a batch item failure, after its next attempt was set further off."""
    from notify.logic.reports import report_record as deliver

    deliver(
        record.body, record.message_id, record.receipt_handle, int(record.attributes.approximate_receive_count), http()
    )


lambda_handler = queue_function("reporter", report_record)
