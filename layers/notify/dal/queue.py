"""Notification queue: SendMessageBatch, ten entries a call, every failed entry reported."""

from __future__ import annotations

from collections.abc import Sequence

from notify.dal.clients import client
from notify.models.messages import NotificationMessage
from notify.settings import get_settings

SQS_BATCH_LIMIT = 10


class EnqueueFailed(Exception):
    """Some messages were not accepted by SQS; `failed` holds their msg_ids."""

    def __init__(self, failed: list[str]) -> None:
        super().__init__(f"{len(failed)} notification(s) not queued")
        self.failed = failed


def enqueue_notifications(messages: Sequence[NotificationMessage], queue_url: str | None = None) -> None:
    """Put every message on the queue or raise EnqueueFailed naming those that did not make it."""
    sqs = client("sqs")
    url = queue_url or get_settings().notification_queue_url
    failed: list[str] = []
    for start in range(0, len(messages), SQS_BATCH_LIMIT):
        chunk = messages[start : start + SQS_BATCH_LIMIT]
        entries = [{"Id": str(i), "MessageBody": m.model_dump_json()} for i, m in enumerate(chunk)]
        response = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        failed.extend(chunk[int(entry["Id"])].msg_id for entry in response.get("Failed", []))
    if failed:
        raise EnqueueFailed(failed)
