"""Event Bulk API: one event to 1..1000 recipients, each with its own request_id.

Rule ids (R1..R9, D1..D7) are those of docs/contract.md.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

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
from notify.logic.status import record_bulk_requests
from notify.models.channels import Channel
from notify.models.definitions import EventDefinition
from notify.models.messages import NotificationMessage
from notify.models.requests import BulkRequest
from notify.models.responses import BulkAccepted, BulkItemReceipt
from notify.observability import count, logger


def item_request_id(bulk_request_id: str, seq: int) -> str:
    """Each item's own request id, deterministic from the bulk request's (and so from its key, R8).

    Its first 8 bytes are the bulk request id's, so the status route finds the item's manifest in the
    bulk's manifest groups (notify.dal.delivery_log.group_partition); the other 8 are uuid5's, with its
    variant bits. Bulk requests accepted before this scheme keep per-item manifests under their old ids.
    """
    bulk = uuid.UUID(bulk_request_id)
    return str(uuid.UUID(bytes=bulk.bytes[:8] + uuid.uuid5(bulk, f"item:{seq}").bytes[8:]))


def bulk_channels(request: BulkRequest, definition: EventDefinition) -> list[dict[Channel, str]]:
    """Channels per item, or one 400 naming every item (by seq) that leaves nothing to send."""
    channels: list[dict[Channel, str]] = []
    errors: list[dict[str, Any]] = []
    for seq, item in enumerate(request.batch, start=1):
        try:
            channels.append(channels_to_send(item.to, definition))
        except NoChannelToSend as exc:
            errors.append({"seq": seq, "field": "to", "message": str(exc)})
    if errors:
        first = errors[0]
        raise RequestValidationError(
            f"Invalid request body: batch item seq {first['seq']}: to: {first['message']}", errors=errors
        )
    return channels


def accept_bulk(scope: RequestScope, request: BulkRequest) -> StoredResponse:
    """Queue every item's notifications; report a partial enqueue failure per item (stored, R3)."""
    definition = require_event_definition(scope.workspace, request.event)
    channels = bulk_channels(request, definition)
    received = datetime.now(UTC)
    request_id = scope.request_id()
    dedupe_until = scope.dedupe_until()
    items: list[tuple[int, str, list[NotificationMessage]]] = []
    for seq, (item, item_channels) in enumerate(zip(request.batch, channels, strict=True), start=1):
        item_id = item_request_id(request_id, seq)
        messages = build_notifications(scope, item_id, 0, request.event, item, item_channels, dedupe_until)
        items.append((seq, item_id, messages))
    every_message = [message for _, _, messages in items for message in messages]
    # Recorded before enqueueing, or kept back for the completion of a keyed request (logic/status.py).
    failed = record_then_queue(
        lambda: record_bulk_requests(
            request_id, [messages for _, _, messages in items], event=request.event, received=received
        ),
        every_message,
        "bulk",
        request_id=request_id,
        bulk_request_id=request_id,
    )
    if len(failed) == len(every_message):
        return stored_response(500, failure("The notifications could not be queued", request_id=request_id))
    count("BulkAccepted")
    logger.info("bulk accepted", extra={"request_id": request_id, "items": len(items), "failed": len(failed)})
    return stored_response(
        202,
        BulkAccepted(
            event=request.event,
            received_time=int(received.timestamp() * 1000),
            request_id=request_id,
            response=[
                BulkItemReceipt(seq=seq, request_id=item_id, **receipts(messages, failed))
                for seq, item_id, messages in items
            ],
        ),
    )
