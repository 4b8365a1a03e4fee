"""Cancelling delayed automation steps, idempotently (docs/contract.md C1-C7).

A trigger may carry a `Cancellation-Key` header (C2): each step of its run is indexed under that key with the
run's request record (notify.dal.cancellations). `POST .../automation/{automation_id}/cancel` runs like every
other POST (notify.logic.idempotency.serve_request, its own key scope "cancel"): its answer is stored and
replayed (C3). It finds the key's runs in one Query and decides each step with one conditional write against the
sender's claim on the same msg_id, so a step is either cancelled or sent, never both (C4).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from notify.dal.cancellations import (
    CANCELLED_REASON,
    CancellableStep,
    cancel_notifications,
    partition,
    recipient_digest,
    step_item,
    steps_of,
)
from notify.errors import RequestValidationError, ServiceUnavailable
from notify.logic.reports import queue_report, report_for
from notify.logic.responses import StoredResponse, stored_response
from notify.models.delivery import DeliveryState
from notify.models.limits import MAX_CANCELLATION_KEY_CHARACTERS
from notify.observability import count, logger, mask_destination
from notify.timestamps import iso_utc

if TYPE_CHECKING:
    from notify.logic.idempotency import RequestScope
    from notify.models.messages import NotificationMessage
    from notify.models.requests import CancelRequest

CANCELLATION_KEY_HEADER = "cancellation-key"


def read_cancellation_key(headers: Mapping[str, str]) -> str | None:
    """The trigger's `Cancellation-Key` (C2): trimmed; None without one; a 400 when blank or past 256 characters."""
    raw = next((value for name, value in headers.items() if name.lower() == CANCELLATION_KEY_HEADER), None)
    if raw is None:
        return None
    key = raw.strip()
    problem = None
    if not key:
        problem = "must be a non-empty string"
    elif len(key) > MAX_CANCELLATION_KEY_CHARACTERS:
        problem = f"must be at most {MAX_CANCELLATION_KEY_CHARACTERS} characters"
    if problem is not None:
        raise RequestValidationError(
            f"The Cancellation-Key header {problem}", errors=[{"field": "Cancellation-Key", "message": problem}]
        )
    return key


def cancellable_step_items(
    scope: RequestScope,
    automation_id: str,
    cancellation_key: str,
    request_id: str,
    steps: Sequence[tuple[int, Sequence[NotificationMessage]]],
    now: float,
) -> list[dict[str, object]]:
    """The index items of a run's steps (one per step with something to send), for its request record."""
    from notify.logic.sender import guard_expiry

    partition_key = partition(scope.workspace, scope.version, automation_id, cancellation_key)
    items = []
    for number, messages in steps:
        if not messages:
            continue
        identities = {message.destination for message in messages if message.channel.value == "email"}
        identities |= {message.distinct_id for message in messages if message.distinct_id}
        step = CancellableStep(
            request_id=request_id,
            step=number,
            notifications=tuple(
                (message.msg_id, message.channel.value, mask_destination(message.destination)) for message in messages
            ),
            recipients=tuple(sorted(recipient_digest(identity) for identity in identities)),
            guard_expires_at=max(guard_expiry(message, now) for message in messages),
            # A step's notifications share their delivery's callback; kept when one was given (report_for decides).
            callback=_reported_callback(messages),
        )
        items.append(step_item(partition_key, step))
    return items


def _reported_callback(messages: Sequence[NotificationMessage]) -> str | None:
    callback = next((message.callback for message in messages if message.callback), None)
    return json.dumps(callback, sort_keys=True) if callback else None


def _report_cancelled(workspace: str, step: CancellableStep, msg_ids: list[str], now: str) -> None:
    """One `cancelled` report per notification this cancel decided, queued here and only here: a sender copy that
    later finds the cancelled item sends and reports nothing (notify.logic.sender)."""
    if step.callback is None:
        return
    callback = json.loads(step.callback)
    shown = {msg_id: (channel, destination) for msg_id, channel, destination in step.notifications}
    for msg_id in msg_ids:
        channel, destination = shown[msg_id]
        queue_report(
            report_for(
                workspace,
                callback,
                request_id=step.request_id,
                msg_id=msg_id,
                channel=channel,
                destination=destination,
                status=DeliveryState.cancelled.value,
                reason=CANCELLED_REASON,
                timestamp=now,
            )
        )


def accept_cancel(scope: RequestScope, automation_id: str, body: CancelRequest) -> StoredResponse:
    """Cancel every step not yet claimed by a sender of the runs triggered with the key (and to the recipients,
    when named): 200 with what was cancelled and what was sent first. An unknown key cancels nothing (C5)."""
    from notify.logic.automations import require_automation_id
    from notify.models.responses import AutomationCancelled, CancelledStep

    require_automation_id(automation_id)
    wanted = {recipient_digest(recipient) for recipient in body.recipients} if body.recipients is not None else None
    try:
        steps = steps_of(partition(scope.workspace, scope.version, automation_id, body.cancellation_key))
    except (BotoCoreError, ClientError) as exc:
        # Before anything was cancelled: a 503 that stores nothing (R9), the key can be retried.
        logger.error("cancellation index unreachable", extra={"error": str(exc)})
        raise ServiceUnavailable() from exc
    cancelled: list[CancelledStep] = []
    already_sent: list[CancelledStep] = []
    now = iso_utc()
    for step in steps:
        if wanted is not None and not wanted.intersection(step.recipients):
            continue
        # Once one step was decided, a failure is an answer (R3): raised here, it is stored as a 500, and a retry
        # of the cancel under a new key finds what is left.
        done, claimed = cancel_notifications(step, list(step.msg_ids), now)
        _report_cancelled(scope.workspace, step, done, now)
        cancelled += [CancelledStep(request_id=step.request_id, step=step.step, msg_id=m) for m in done]
        already_sent += [CancelledStep(request_id=step.request_id, step=step.step, msg_id=m) for m in claimed]
    count("NotificationsCancelled", len(cancelled))
    logger.info(
        "automation cancelled",
        extra={"automation_id": automation_id, "cancelled": len(cancelled), "already_sent": len(already_sent)},
    )
    return stored_response(200, AutomationCancelled(cancelled=cancelled, already_sent=already_sent))
