"""Sender: consumes the notification queue and delivers each notification at most once (D1, R8)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from notify.logic import budget
from notify.logic.providers import Providers
from notify.logic.sender import send_notification
from notify.models.messages import NotificationMessage
from notify.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)


@cache
def providers() -> Providers:
    """One set of providers per container (created on first use, after settings are readable)."""
    return Providers()


class MalformedMessage(Exception):
    """A queue message that is not a notification: reported failed, so the queue moves it to the DLQ."""


def read_message(record: SQSRecord) -> NotificationMessage:
    """The record's notification. pydantic's own error quotes the body, recipient address included, and
    Lambda logs the traceback of a batch whose every record failed: name only the fields that broke."""
    try:
        return NotificationMessage.model_validate_json(record.body)
    except ValidationError as exc:
        fields = sorted({".".join(str(part) for part in error["loc"]) or "body" for error in exc.errors()})
        reason = f"queue message {record.message_id} is not a notification: {', '.join(fields)}"
        raise MalformedMessage(reason) from None


@tracer.capture_method
def send_record(record: SQSRecord) -> None:
    """One queue message; raising reports it as a batch item failure, so SQS redelivers only it."""
    send_notification(read_message(record), int(record.attributes.approximate_receive_count), providers())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Every provider call is bounded by what is left of this invocation, so a slow provider cannot make
    # Lambda time out the whole batch; messages that do not fit go back to the queue untouched.
    token = budget.start_invocation(context)
    try:
        return process_partial_response(event=event, record_handler=send_record, processor=processor, context=context)
    finally:
        budget.end_invocation(token)
