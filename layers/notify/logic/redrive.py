"""Redrive: deliver an `unknown` or `failed` notification again, on an operator's decision.

The sender never sends a msg_id twice by itself (R8); after a timeout or a 5xx it records `unknown`.
Whether the recipient got it is for a person to find out (the provider's own logs, the recipient); this
sends it once more on purpose: its state goes back to `queued` (only from `unknown` or `failed`, so a
`sent` notification is always refused) and the sender's guard for the msg_id, which is that same item, is
released in the same write, so the next copy may claim it; then the queue message the sender kept in the
delivery log is queued again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from notify.dal.delivery_log import (
    REDRIVABLE_STATES,
    get_request,
    get_stored_message,
    mark_redriven,
    record_outcome,
)
from notify.dal.queue import EnqueueFailed, enqueue_notifications
from notify.models.messages import NotificationMessage
from notify.observability import logger
from notify.timestamps import iso_utc

REDRIVE_REASON = "redriven by an operator"
NOT_RECORDED = "no delivery was recorded for it"


@dataclass(frozen=True)
class RedriveTargets:
    delivery_log_table: str
    idempotency_table: str
    queue_url: str


@dataclass(frozen=True)
class Redriven:
    """What happened to one notification: queued again, or why not."""

    msg_id: str
    channel: str
    state: str  # before the redrive
    queued: bool
    reason: str | None = None


class RequestUnknown(Exception):
    """No notification of this request was ever recorded."""


def redrive_notifications(
    targets: RedriveTargets,
    request_id: str,
    *,
    msg_ids: Sequence[str] = (),
    channel: str | None = None,
) -> list[Redriven]:
    """Queue again the request's `unknown` and `failed` notifications (only `msg_ids`/`channel` when given)."""
    _, records = get_request(request_id, table=targets.delivery_log_table)
    if not records and not msg_ids:
        raise RequestUnknown(request_id)
    by_id = {record.msg_id: record for record in records}
    results = [Redriven(msg_id, "", "none", False, NOT_RECORDED) for msg_id in msg_ids if msg_id not in by_id]
    chosen = [
        record
        for record in records
        if (not msg_ids or record.msg_id in msg_ids) and (channel is None or record.channel == channel)
    ]
    for record in chosen:
        results.append(_redrive_one(targets, request_id, record.msg_id))
    return results


def _redrive_one(targets: RedriveTargets, request_id: str, msg_id: str) -> Redriven:
    stored = get_stored_message(request_id, msg_id, table=targets.delivery_log_table)
    if stored is None:
        return Redriven(msg_id, "", "none", False, NOT_RECORDED)
    record, body = stored
    channel, before = (record.channel.value if record.channel else ""), record.state
    if before not in REDRIVABLE_STATES:
        refusal = f"it is {before.value}: only unknown or failed notifications are redriven"
        return Redriven(msg_id, channel, before.value, False, refusal)
    if body is None:
        return Redriven(msg_id, channel, before.value, False, "the sender did not keep its queue message")
    message = NotificationMessage.model_validate_json(body)
    now = iso_utc()
    # The state change is the gate: conditional on unknown/failed, so two operators cannot both redrive; it
    # releases the guard too.
    if not mark_redriven(request_id, msg_id, updated_at=now, reason=REDRIVE_REASON, table=targets.delivery_log_table):
        return Redriven(msg_id, channel, before.value, False, "its state changed meanwhile")
    try:
        enqueue_notifications([message], queue_url=targets.queue_url)
    except EnqueueFailed:
        record_outcome(
            request_id,
            msg_id,
            state=before,
            updated_at=now,
            reason="redrive failed: the queue refused the message",
            table=targets.delivery_log_table,
        )
        return Redriven(msg_id, channel, before.value, False, "the queue refused the message")
    logger.info("notification redriven", extra={"request_id": request_id, "msg_id": msg_id, "channel": channel})
    return Redriven(msg_id, channel, before.value, True)
