"""The report queue (docs/contract.md section 8): the sender and the provider-events function put reports on it;
the reporter delays a report it could not deliver by moving its visibility timeout."""

from __future__ import annotations

from notify.dal.clients import client
from notify.models.callbacks import ReportMessage
from notify.settings import get_settings


def send_report(message: ReportMessage, queue_url: str | None = None) -> None:
    client("sqs").send_message(
        QueueUrl=queue_url or get_settings().report_queue_url, MessageBody=message.model_dump_json()
    )


def delay_report(receipt_handle: str, seconds: int, queue_url: str | None = None) -> None:
    """Keep a received report hidden `seconds` from now: its next attempt comes then."""
    client("sqs").change_message_visibility(
        QueueUrl=queue_url or get_settings().report_queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
    )
