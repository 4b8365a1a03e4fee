"""Notification queue: SendMessageBatch (10 entries a call, calls in parallel, failed entries retried)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from notify.dal.clients import client, map_in_parallel
from notify.models.messages import NotificationMessage
from notify.observability import logger
from notify.settings import get_settings

SQS_BATCH_ENTRIES = 10
# SQS caps a batch's total payload at 256 KiB (older accounts); stay under it with room for attributes.
SQS_BATCH_BYTES = 250 * 1024
SQS_MAX_DELAY_SECONDS = 900
PARALLEL_CALLS = 16
ATTEMPTS = 3


@dataclass(frozen=True)
class Outgoing:
    """One message to send, with its SQS delay (at most 15 minutes; longer delays are chained)."""

    message: NotificationMessage
    delay_seconds: int = 0


class EnqueueFailed(Exception):
    """Some messages were not accepted by SQS after every retry; `failed` holds their msg_ids."""

    def __init__(self, failed: list[str]) -> None:
        super().__init__(f"{len(failed)} notification(s) not queued")
        self.failed = failed


def enqueue_notifications(messages: Sequence[NotificationMessage | Outgoing], queue_url: str | None = None) -> None:
    """Put every message on the queue or raise EnqueueFailed naming those that did not make it."""
    url = queue_url or get_settings().notification_queue_url
    outgoing = [m if isinstance(m, Outgoing) else Outgoing(m) for m in messages]
    batches = _batches(outgoing)
    if len(batches) == 1:
        failed = _send_with_retries(url, batches[0])
    else:
        results = map_in_parallel(lambda batch: _send_with_retries(url, batch), batches, PARALLEL_CALLS)
        failed = [msg_id for result in results for msg_id in result]
    if failed:
        raise EnqueueFailed(failed)


def _batches(outgoing: list[Outgoing]) -> list[list[tuple[Outgoing, str]]]:
    """Group messages into SendMessageBatch calls by count and by total size."""
    batches: list[list[tuple[Outgoing, str]]] = []
    current: list[tuple[Outgoing, str]] = []
    size = 0
    for item in outgoing:
        body = item.message.model_dump_json()
        if current and (len(current) == SQS_BATCH_ENTRIES or size + len(body) > SQS_BATCH_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append((item, body))
        size += len(body)
    if current:
        batches.append(current)
    return batches


def _send_with_retries(url: str, batch: list[tuple[Outgoing, str]]) -> list[str]:
    """Send one batch; retry the entries SQS refused (or the whole call on a transport error)."""
    sqs = client("sqs")
    pending = dict(enumerate(batch))
    for attempt in range(ATTEMPTS):
        entries = [
            {
                "Id": str(index),
                "MessageBody": body,
                **({"DelaySeconds": min(item.delay_seconds, SQS_MAX_DELAY_SECONDS)} if item.delay_seconds else {}),
            }
            for index, (item, body) in pending.items()
        ]
        try:
            response = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        except (BotoCoreError, ClientError) as exc:
            logger.warning("send_message_batch failed", extra={"attempt": attempt + 1, "error": str(exc)})
        else:
            refused = {int(entry["Id"]) for entry in response.get("Failed", [])}
            pending = {index: value for index, value in pending.items() if index in refused}
            if not pending:
                return []
        if attempt + 1 < ATTEMPTS:
            time.sleep(0.05 * 2**attempt)
    return [item.message.msg_id for item, _ in pending.values()]
