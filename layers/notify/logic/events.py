"""Event API: one event to one recipient, one queued notification per channel."""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from notify.dal.queue import EnqueueFailed, enqueue_notifications
from notify.errors import RequestValidationError
from notify.logic.idempotency import RequestScope, derive_msg_id
from notify.logic.responses import StoredResponse, stored_response
from notify.models.channels import Channel
from notify.models.definitions import EventDefinition
from notify.models.messages import NotificationMessage
from notify.models.requests import EventRequest
from notify.observability import logger, metrics


def channels_to_send(request: EventRequest, definition: EventDefinition) -> dict[Channel, str]:
    """The requested channels the event defines. A destination for a channel the event lacks is
    skipped, as Fyno does; a request that leaves nothing to send is a 400 (before execution)."""
    requested = request.to.destinations()
    sendable = {channel: dest for channel, dest in requested.items() if channel in definition.channels}
    if not sendable:
        defined = ", ".join(sorted(c.value for c in definition.channels))
        raise RequestValidationError(
            f"The event '{definition.name}' has no channel for the destinations in 'to' (it defines: {defined})",
            errors=[{"field": "to", "message": f"must include one of: {defined}"}],
        )
    return sendable


def accept_event(
    scope: RequestScope,
    request: EventRequest,
    channels: dict[Channel, str],
    dedupe_until: int,
) -> StoredResponse:
    """Queue the notifications and answer 202; a queue failure is answered (and stored) as a 500 (R3)."""
    received = datetime.now(UTC)
    request_id = scope.request_id()
    messages = [
        NotificationMessage(
            msg_id=derive_msg_id(request_id, 0, channel.value),
            request_id=request_id,
            workspace=scope.workspace,
            version=scope.version,
            event=request.event,
            channel=channel,
            destination=destination,
            data=request.data,
            distinct_id=request.distinct_id,
            callback=request.callback,
            dedupe_until=dedupe_until,
        )
        for channel, destination in channels.items()
    ]
    try:
        enqueue_notifications(messages)
    except (EnqueueFailed, BotoCoreError, ClientError) as exc:
        logger.error("enqueue failed", extra={"request_id": request_id, "error": str(exc)})
        metrics.add_metric(name="EnqueueFailed", unit="Count", value=1)
        return stored_response(
            500,
            {"_message": "The notification could not be queued", "status": "error", "request_id": request_id},
        )
    logger.info("event accepted", extra={"request_id": request_id, "channels": [m.channel for m in messages]})
    metrics.add_metric(name="EventAccepted", unit="Count", value=1)
    return stored_response(
        202,
        {
            "event": request.event,
            "received_time": received.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "request_id": request_id,
            "response": {
                m.channel.value: {"destination": m.destination, "msg_id": m.msg_id, "status": "ok"} for m in messages
            },
        },
    )
