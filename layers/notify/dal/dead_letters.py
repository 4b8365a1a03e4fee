"""The dead-letter queue, for the operator: list its messages, and move them back to the notification queue.

A moved message is the same notification (same msg_id): the sender's per-msg_id claim (R8) delivers one
that never went out and skips one that did, so a redrive never sends a notification twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from notify.dal.clients import client

SQS_BATCH_ENTRIES = 10
# Long enough to send a batch on and delete it; short enough that an interrupted redrive leaves the
# messages visible again in the dead-letter queue a minute later, where a second run finds them.
MOVE_VISIBILITY_SECONDS = 60


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    body: str
    receive_count: int
    first_sent_ms: int


def _receive(queue_url: str, count: int, visibility_seconds: int) -> list[dict[str, Any]]:
    response = client("sqs").receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=max(1, min(count, SQS_BATCH_ENTRIES)),
        VisibilityTimeout=visibility_seconds,
        # Long polling asks every SQS server: a short poll samples a few and may answer empty too early.
        WaitTimeSeconds=1,
        AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
    )
    return response.get("Messages", [])


def list_dead_letters(dlq_url: str, limit: int) -> list[DeadLetter]:
    """Up to `limit` messages of the dead-letter queue; they stay there, visible again at once."""
    sqs = client("sqs")
    seen: list[DeadLetter] = []
    handles: list[str] = []
    try:
        while len(seen) < limit:
            batch = _receive(dlq_url, limit - len(seen), visibility_seconds=30)
            if not batch:
                break
            for message in batch:
                attributes = message.get("Attributes", {})
                handles.append(message["ReceiptHandle"])
                seen.append(
                    DeadLetter(
                        message_id=message["MessageId"],
                        body=message["Body"],
                        receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
                        first_sent_ms=int(attributes.get("SentTimestamp", 0)),
                    )
                )
    finally:
        for handle in handles:
            sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return seen


def redrive_dead_letters(dlq_url: str, queue_url: str, limit: int | None = None) -> int:
    """Move up to `limit` messages (all, when None) from the dead-letter queue back to `queue_url`.

    Each message is deleted from the dead-letter queue only once the notification queue accepted its copy;
    returns how many moved."""
    sqs = client("sqs")
    moved = 0
    while limit is None or moved < limit:
        batch = _receive(dlq_url, SQS_BATCH_ENTRIES if limit is None else limit - moved, MOVE_VISIBILITY_SECONDS)
        if not batch:
            break
        by_id = {str(index): message for index, message in enumerate(batch)}
        response = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": entry_id, "MessageBody": message["Body"]} for entry_id, message in by_id.items()],
        )
        accepted = [entry["Id"] for entry in response.get("Successful", [])]
        if accepted:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[{"Id": entry_id, "ReceiptHandle": by_id[entry_id]["ReceiptHandle"]} for entry_id in accepted],
            )
        moved += len(accepted)
        refused = response.get("Failed", [])
        if refused:
            for entry in refused:
                sqs.change_message_visibility(
                    QueueUrl=dlq_url, ReceiptHandle=by_id[entry["Id"]]["ReceiptHandle"], VisibilityTimeout=0
                )
            reason = f"the notification queue refused {len(refused)}: {refused[0].get('Message')}"
            raise RedriveIncomplete(moved, reason)
    return moved


class RedriveIncomplete(Exception):
    """Some messages could not be moved; they are back in the dead-letter queue."""

    def __init__(self, moved: int, reason: str) -> None:
        super().__init__(f"moved {moved}, then stopped: {reason}")
        self.moved = moved
