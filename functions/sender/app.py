"""Sender: consumes the notification queue and delivers each notification at most once (D1, R8).

Cold start: only the batch processor, Logger and Metrics are imported here; the sending logic, pydantic's
models and the providers are imported by the first invocation (and jinja2 by the first render).
"""

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

    from notify.logic.providers import Providers

# Cold start: stop here, naming the variable, when the template did not give one this function needs.
require_environment("sender")
processor = BatchProcessor(event_type=EventType.SQS)


@per_container
def providers() -> Providers:
    """One set of providers per container (created on first use, after settings are readable)."""
    from notify.logic.providers import Providers

    return Providers()


@tracer.capture_method
def send_record(record: SQSRecord) -> None:
    """One queue message; raising reports it as a batch item failure, so SQS redelivers only it (a malformed
    message is reported failed too, so the queue moves it to the DLQ)."""
    from notify.logic.sender import read_message, send_notification

    message = read_message(record.body, record.message_id)
    send_notification(message, int(record.attributes.approximate_receive_count), providers())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    from notify.logic import budget

    # Every provider call is bounded by what is left of this invocation, so a slow provider cannot make
    # Lambda time out the whole batch; messages that do not fit go back to the queue untouched.
    token = budget.start_invocation(context)
    try:
        return process_partial_response(event=event, record_handler=send_record, processor=processor, context=context)
    finally:
        budget.end_invocation(token)
