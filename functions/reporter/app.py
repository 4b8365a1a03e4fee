"""Reporter: consumes the report queue and POSTs each delivery report, signed, to its endpoints
(docs/contract.md section 8). A report not taken is retried later and later (its visibility moved on each
receive), for more than 24 hours, then the queue moves it to its dead-letter queue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from notify.caches import per_container
from notify.environment import require_environment
from notify.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from notify.logic.providers.webhooks import HttpClient

require_environment("reporter")
processor = BatchProcessor(event_type=EventType.SQS)


@per_container
def http() -> HttpClient:
    from notify.logic.providers.webhooks import HttpClient
    from notify.settings import get_settings

    return HttpClient(timeout=get_settings().webhook_timeout_seconds)


@tracer.capture_method
def report_record(record: SQSRecord) -> None:
    """One report; raising reports it as a batch item failure, after its next attempt was set further off."""
    from notify.logic.reports import report_record as deliver

    deliver(
        record.body, record.message_id, record.receipt_handle, int(record.attributes.approximate_receive_count), http()
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    from notify.logic import budget

    # Each POST is bounded by what is left of the invocation: a hung receiver cannot time out the batch.
    token = budget.start_invocation(context)
    try:
        return process_partial_response(event=event, record_handler=report_record, processor=processor, context=context)
    finally:
        budget.end_invocation(token)
