"""Messages on the notification queue: one per (request, recipient, channel)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from notify.models.channels import Channel


class NotificationMessage(BaseModel):
    """A notification to deliver. `msg_id` is deterministic for keyed requests, so senders dedupe on it (R8)."""

    msg_id: str
    request_id: str
    workspace: str
    version: Literal["live", "test"]
    event: str
    channel: Channel
    destination: str
    data: dict[str, Any] = Field(default_factory=dict)
    distinct_id: str | None = None
    callback: dict[str, Any] | None = None
    # Epoch seconds until which a redelivery of this msg_id must not send again (the key's expiry).
    dedupe_until: int
    # Epoch seconds before which it must not be sent: delays beyond SQS's 15 minutes are chained by
    # re-enqueueing until this time is near (docs/contract.md section 4).
    not_before: int | None = None
    # An automation step's configured delay: a client retry may queue a copy until `dedupe_until`, due this
    # much later, so the sender's guard for the msg_id lives that long too (R8).
    step_delay_seconds: int | None = None
