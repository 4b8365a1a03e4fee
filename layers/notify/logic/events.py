"""Event API, and what every API shares: which channels to send, one queued notification per channel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from notify.dal.clients import time_budget_leaving
from notify.dal.queue import EnqueueFailed, Outgoing, enqueue_notifications
from notify.errors import RequestValidationError
from notify.logic.definitions import require_event_definition
from notify.logic.idempotency import RequestScope, derive_msg_id
from notify.logic.responses import StoredResponse, stored_response
from notify.logic.status import record_not_queued, record_request
from notify.models.channels import Channel
from notify.models.definitions import EventDefinition
from notify.models.delivery import RequestManifest
from notify.models.messages import NotificationMessage
from notify.models.requests import Delivery, EventRequest, Recipient
from notify.observability import count, logger


class NoChannelToSend(ValueError):
    """The recipient has no destination on any channel the event defines."""


def channels_to_send(to: Recipient, definition: EventDefinition) -> dict[Channel, str]:
    """The requested channels the event defines. A destination for a channel the event lacks is
    skipped, as Fyno does; a recipient left with nothing to send is refused before execution."""
    sendable = {channel: dest for channel, dest in to.destinations().items() if channel in definition.channels}
    if not sendable:
        defined = ", ".join(sorted(c.value for c in definition.channels))
        raise NoChannelToSend(f"must include one of: {defined}")
    return sendable


def build_notifications(
    scope: RequestScope,
    request_id: str,
    recipient_index: int,
    event: str,
    delivery: Delivery,
    channels: dict[Channel, str],
    dedupe_until: int,
) -> list[NotificationMessage]:
    return [
        NotificationMessage(
            msg_id=derive_msg_id(request_id, recipient_index, channel.value),
            request_id=request_id,
            workspace=scope.workspace,
            version=scope.version,
            event=event,
            channel=channel,
            destination=destination,
            data=delivery.data,
            distinct_id=delivery.distinct_id,
            callback=delivery.callback,
            dedupe_until=dedupe_until,
        )
        for channel, destination in channels.items()
    ]


# Enqueueing leaves this much of the execution's time to record what the queue refused.
NOT_QUEUED_RESERVE_SECONDS = 2.5


def queue_notifications(
    outgoing: Sequence[NotificationMessage | Outgoing],
    api: str,
    manifests: Sequence[RequestManifest],
    *,
    bulk_request_id: str | None = None,
) -> set[str]:
    """Enqueue every message; return the msg_ids the queue did not take, recorded `failed` ("not queued")
    so the status route never shows them waiting (R8)."""
    try:
        with time_budget_leaving(NOT_QUEUED_RESERVE_SECONDS):
            enqueue_notifications(outgoing)
    except EnqueueFailed as exc:
        failed = set(exc.failed)
    else:
        return set()
    logger.error("enqueue failed", extra={"notifications": len(outgoing), "failed": len(failed)})
    count("EnqueueFailed", len(failed), api=api)
    record_not_queued(manifests, failed, bulk_request_id=bulk_request_id)
    return failed


def record_then_queue(
    record: Callable[[], Sequence[RequestManifest]],
    outgoing: Sequence[NotificationMessage | Outgoing],
    api: str,
    *,
    request_id: str,
    bulk_request_id: str | None = None,
) -> set[str]:
    """Record the request for the status route (`record`), then queue its notifications; returns the msg_ids
    that were not queued: every one when the record could not be written (nothing was offered to the queue)."""
    try:
        manifests = record()
    except (BotoCoreError, ClientError, RuntimeError) as exc:
        logger.error("request record failed", extra={"request_id": request_id, "error": str(exc)})
        failed = {(item.message if isinstance(item, Outgoing) else item).msg_id for item in outgoing}
        count("EnqueueFailed", len(failed), api=api)
        return failed
    return queue_notifications(outgoing, api, manifests, bulk_request_id=bulk_request_id)


def receipts(messages: list[NotificationMessage], failed: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """`{channel: {"destination", "msg_id", "status"}}` as the APIs answer it."""
    answer: dict[str, Any] = {}
    for message in messages:
        receipt: dict[str, Any] = {"destination": message.destination, "msg_id": message.msg_id, "status": "ok"}
        if message.msg_id in failed:
            receipt.update(status="error", _message="The notification could not be queued")
        answer[message.channel.value] = receipt
    return answer


def iso_utc(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_channels(request: EventRequest, definition: EventDefinition) -> dict[Channel, str]:
    try:
        return channels_to_send(request.to, definition)
    except NoChannelToSend as exc:
        raise RequestValidationError(
            f"The event '{definition.name}' has no channel for the destinations in 'to' ({exc})",
            errors=[{"field": "to", "message": str(exc)}],
        ) from exc


def accept_event(scope: RequestScope, request: EventRequest) -> StoredResponse:
    """Queue one notification per channel and answer 202 with each channel's status; 500 when none was queued."""
    definition = require_event_definition(scope.workspace, request.event)
    channels = event_channels(request, definition)
    received = datetime.now(UTC)
    request_id = scope.request_id()
    messages = build_notifications(scope, request_id, 0, request.event, request, channels, scope.dedupe_until())
    # Recorded before enqueueing, or kept back for the completion of a keyed request (logic/status.py).
    failed = record_then_queue(
        lambda: [record_request(messages, event=request.event, received=received)],
        messages,
        "event",
        request_id=request_id,
    )
    if len(failed) == len(messages):
        return stored_response(
            500,
            {"_message": "The notification could not be queued", "status": "error", "request_id": request_id},
        )
    logger.info("event accepted", extra={"request_id": request_id, "channels": [m.channel for m in messages]})
    count("EventAccepted")
    return stored_response(
        202,
        {
            "event": request.event,
            "received_time": iso_utc(received),
            "request_id": request_id,
            "response": receipts(messages, failed),
        },
    )
