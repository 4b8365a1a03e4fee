"""Event Bulk API: one event to 1..1000 recipients, each with its own request_id."""

from __future__ import annotations

import uuid
from typing import Any

from notify.errors import RequestValidationError
from notify.logic.definitions import require_event_definition
from notify.logic.idempotency import RequestScope
from notify.logic.notifications import (
    build_notifications,
    check_answer_size,
    missing_template_data,
    receipts,
    record_then_queue,
    skipped_reasons,
)
from notify.logic.recipients import Destinations, Recipient, resolve_destinations
from notify.logic.reports import require_known_endpoints
from notify.logic.responses import StoredResponse
from notify.logic.status import record_bulk_requests
from notify.logic.suppressions import suppressed_reasons
from notify.logic.templates import TrialRenders
from notify.models.definitions import EventDefinition
from notify.models.messages import NotificationMessage
from notify.models.requests import BulkRequest
from notify.models.responses import BulkAccepted, BulkItemReceipt


def item_request_id(bulk_request_id: str, seq: int) -> str:
    """Each item's own request id, deterministic from the bulk request's (and so from its key, R8).

    Its first 8 bytes are the bulk request id's, so the status route finds the item's manifest in the
    bulk's manifest groups (notify.dal.delivery_log.group_partition); the other 8 are uuid5's, with its
    variant bits. Bulk requests accepted before this scheme keep per-item manifests under their old ids.
    """
    bulk = uuid.UUID(bulk_request_id)
    return str(uuid.UUID(bytes=bulk.bytes[:8] + uuid.uuid5(bulk, f"item:{seq}").bytes[8:]))


def bulk_channels(request: BulkRequest, definition: EventDefinition, scope: RequestScope) -> list[Destinations]:
    """Destinations per item (`to`, then the profile of `distinct_id`), or one 400 naming every item (by seq)
    that leaves nothing to send."""
    found = resolve_destinations(
        scope, [Recipient(seq, item, definition) for seq, item in enumerate(request.batch, start=1)]
    )
    channels: list[Destinations] = []
    errors: list[dict[str, Any]] = []
    defined = ", ".join(sorted(c.value for c in definition.channels))
    for seq, item in enumerate(request.batch, start=1):
        if found[seq].unknown_profile and item.distinct_id is not None:
            errors.append({"seq": seq, "field": "distinct_id", "message": f"no profile '{item.distinct_id}'"})
        elif not found[seq].channels:
            errors.append({"seq": seq, "field": "to", "message": f"must include one of: {defined}"})
        channels.append(found[seq])
    if errors:
        first = errors[0]
        raise RequestValidationError(
            f"Invalid request body: batch item seq {first['seq']}: to: {first['message']}", errors=errors
        )
    return channels


def require_template_data(request: BulkRequest, definition: EventDefinition, channels: list[Destinations]) -> None:
    """One 400 naming (by seq) each item whose `data` lacks a variable a template it is sent needs (D8)."""
    trial = TrialRenders()
    errors: list[dict[str, Any]] = []
    for seq, (item, found) in enumerate(zip(request.batch, channels, strict=True), start=1):
        if found.skipped:  # an inactive profile is sent nothing, so needs nothing
            continue
        for problem in missing_template_data(trial, definition, found.channels, item.data):
            errors.append({"seq": seq, "field": "data", "message": problem})
    if errors:
        first = errors[0]
        raise RequestValidationError(
            f"Invalid request body: batch item seq {first['seq']}: data: {first['message']}", errors=errors
        )


def accept_bulk(scope: RequestScope, request: BulkRequest) -> StoredResponse:
    """Queue every item's notifications; report a partial enqueue failure per item (stored, R3)."""
    definition = require_event_definition(scope.workspace, request.event)
    channels = bulk_channels(request, definition, scope)
    require_known_endpoints(scope.workspace, [item.callback for item in request.batch])
    require_template_data(request, definition, channels)
    received = scope.received()
    request_id = scope.request_id()
    dedupe_until = scope.dedupe_until()
    items: list[tuple[int, str, list[NotificationMessage]]] = []
    skipped: dict[str, str] = {}
    for seq, (item, found) in enumerate(zip(request.batch, channels, strict=True), start=1):
        item_id = item_request_id(request_id, seq)
        messages = build_notifications(scope, item_id, 0, request.event, item, found.channels, dedupe_until)
        skipped.update(skipped_reasons(messages, found))
        items.append((seq, item_id, messages))
    unskipped = [message for _, _, messages in items for message in messages if message.msg_id not in skipped]
    skipped.update(suppressed_reasons(scope.workspace, unskipped))  # one read for the whole batch
    check_answer_size([message for _, _, messages in items for message in messages], len(items), skipped)
    every_message = [message for _, _, messages in items for message in messages if message.msg_id not in skipped]
    # Recorded before enqueueing, or kept back for the completion of a keyed request (logic/status.py).
    queued = record_then_queue(
        scope,
        lambda kept: record_bulk_requests(
            request_id,
            [messages for _, _, messages in items],
            event=request.event,
            received=received,
            skipped=skipped,
            kept=kept,
        ),
        every_message,
        request_id=request_id,
        refusal="The notifications could not be queued",
        bulk_request_id=request_id,
        skipped=skipped,
        every_message=[message for _, _, messages in items for message in messages],
    )
    accepted = BulkAccepted(
        event=request.event,
        received_time=int(received.timestamp() * 1000),
        request_id=request_id,
        response=[
            BulkItemReceipt(seq=seq, request_id=item_id, **receipts(messages, queued.failed, skipped))
            for seq, item_id, messages in items
        ],
    )
    extra = {"request_id": request_id, "items": len(items), "failed": len(queued.failed)}
    return queued.answer(accepted, metric="BulkAccepted", log="bulk accepted", **extra)
