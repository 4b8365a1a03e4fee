"""Event API: one event to one recipient, one queued notification per channel."""

from __future__ import annotations

from datetime import UTC, datetime

from notify.errors import RequestValidationError
from notify.logic.definitions import require_event_definition
from notify.logic.idempotency import RequestScope
from notify.logic.notifications import (
    NoChannelToSend,
    build_notifications,
    channels_to_send,
    receipts,
    record_then_queue,
)
from notify.logic.responses import StoredResponse, failure, stored_response
from notify.logic.status import record_request
from notify.models.channels import Channel
from notify.models.definitions import EventDefinition
from notify.models.requests import EventRequest
from notify.models.responses import ChannelReceipts, EventAccepted
from notify.observability import count, logger
from notify.timestamps import iso_utc


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
        return stored_response(500, failure("The notification could not be queued", request_id=request_id))
    logger.info("event accepted", extra={"request_id": request_id, "channels": [m.channel for m in messages]})
    count("EventAccepted")
    return stored_response(
        202,
        EventAccepted(
            event=request.event,
            received_time=iso_utc(received),
            request_id=request_id,
            response=ChannelReceipts(**receipts(messages, failed)),
        ),
    )
