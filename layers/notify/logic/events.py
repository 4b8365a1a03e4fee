"""Event API: one event to one recipient, one queued notification per channel."""

from __future__ import annotations

from typing import Any

from notify.errors import RequestValidationError, UnknownProfile
from notify.logic.definitions import require_event_definition
from notify.logic.idempotency import RequestScope
from notify.logic.notifications import (
    build_notifications,
    missing_template_data,
    receipts,
    record_then_queue,
    skipped_reasons,
)
from notify.logic.recipients import Destinations, resolve_destinations
from notify.logic.recipients import Recipient as ResolvedRecipient
from notify.logic.reports import require_known_endpoints
from notify.logic.responses import StoredResponse
from notify.logic.status import record_request
from notify.logic.suppressions import suppressed_reasons
from notify.logic.templates import TrialRenders
from notify.models.definitions import EventDefinition
from notify.models.requests import EventRequest
from notify.models.responses import ChannelReceipts, EventAccepted
from notify.timestamps import iso_utc


def event_channels(request: EventRequest, definition: EventDefinition, scope: RequestScope) -> Destinations:
    """The channels to send and their destinations, `to` first, then the profile of `distinct_id`."""
    found = resolve_destinations(scope, [ResolvedRecipient(0, request, definition)])[0]
    if found.unknown_profile and request.distinct_id is not None:
        raise UnknownProfile(request.distinct_id)
    if not found.channels:
        defined = ", ".join(sorted(c.value for c in definition.channels))
        message = f"must include one of: {defined}"
        raise RequestValidationError(
            f"The event '{definition.name}' has no channel for the destinations in 'to' ({message})",
            errors=[{"field": "to", "message": message}],
        )
    return found


def require_template_data(definition: EventDefinition, found: Destinations, data: dict[str, Any]) -> None:
    """A 400 naming each channel whose template needs a variable `data` does not give (D8), before anything
    is stored: the claim is released (R5)."""
    problems = missing_template_data(TrialRenders(), definition, found.channels, data)
    if problems:
        raise RequestValidationError(
            f"Invalid request body: data: {problems[0]}",
            errors=[{"field": "data", "message": problem} for problem in problems],
        )


def accept_event(scope: RequestScope, request: EventRequest) -> StoredResponse:
    """Queue one notification per channel and answer 202 with each channel's status; 500 when none was queued."""
    definition = require_event_definition(scope.workspace, request.event)
    found = event_channels(request, definition, scope)
    require_known_endpoints(scope.workspace, [request.callback])
    if not found.skipped:  # an inactive profile is sent nothing, so needs nothing
        require_template_data(definition, found, request.data)
    received = scope.received()
    request_id = scope.request_id()
    messages = build_notifications(scope, request_id, 0, request.event, request, found.channels, scope.dedupe_until())
    skipped = skipped_reasons(messages, found)
    skipped.update(suppressed_reasons(scope.workspace, [m for m in messages if m.msg_id not in skipped]))
    outgoing = [message for message in messages if message.msg_id not in skipped]
    # Recorded before enqueueing, or kept back for the completion of a keyed request (logic/status.py).
    queued = record_then_queue(
        scope,
        lambda kept: [record_request(messages, event=request.event, received=received, skipped=skipped, kept=kept)],
        outgoing,
        request_id=request_id,
        refusal="The notification could not be queued",
        skipped=skipped,
        every_message=messages,
    )
    accepted = EventAccepted(
        event=request.event,
        received_time=iso_utc(received),
        request_id=request_id,
        response=ChannelReceipts(**receipts(messages, queued.failed, skipped)),
    )
    channels = [m.channel for m in messages]
    return queued.answer(
        accepted, metric="EventAccepted", log="event accepted", request_id=request_id, channels=channels
    )
