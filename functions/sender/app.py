"""Sender: consumes the notification queue and delivers each notification at most once (D1, R8).

Cold start: only the batch processor, Logger and Metrics are imported here; the sending logic, pydantic's
models and the providers are imported by the first invocation (and jinja2 by the first render).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from notify.batch import queue_function
from notify.caches import per_container

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from notify.logic.providers import Providers


@per_container
def providers() -> Providers:
    """One set of providers per container (created on first use, after settings are readable)."""
    from notify.logic.providers import Providers

    return Providers()


def send_record(record: SQSRecord) -> None:
    """One queue message (a malformed one is reported failed too, so the queue moves it to the DLQ); messages
    that do not fit in what is left of the invocation go back to the queue untouched."""
    from notify.logic.sender import read_message, send_notification

    message = read_message(record.body, record.message_id)
    send_notification(message, int(record.attributes.approximate_receive_count), providers())


lambda_handler = queue_function("sender", send_record)
