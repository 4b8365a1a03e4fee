"""Delivery log items (one request manifest plus one item per notification) and provider settings."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, SecretStr

from notify.models.channels import Channel


class DeliveryState(StrEnum):
    queued = "queued"
    sent = "sent"
    failed = "failed"
    # The provider may have accepted it (timeout after sending, lost answer, 5xx): never re-sent automatically (R8).
    unknown = "unknown"
    # Never sent, on purpose: the recipient's profile is inactive (docs/contract.md section 6), or the destination
    # is suppressed (section 8).
    skipped = "skipped"
    # Never sent, on purpose: a delayed automation step cancelled before its sender claimed it (C4).
    cancelled = "cancelled"
    # From the provider, after `sent` (SES events through the configuration set, notify.logic.provider_events):
    # the recipient's server took it; it bounced (the reason says hard or soft); the recipient complained.
    delivered = "delivered"
    bounced = "bounced"
    complained = "complained"


# A notification the provider took: no later write of the sender (a redelivered copy) may move it back.
PROVIDER_TOOK = (DeliveryState.sent, DeliveryState.delivered, DeliveryState.bounced, DeliveryState.complained)


class ManifestEntry(BaseModel):
    """One notification of a request as the Event API queued it; the destination is already masked."""

    msg_id: str
    channel: Channel
    destination: str


class RequestManifest(BaseModel):
    """Written by the Event API before it enqueues, so a request shows `queued` before any sender runs."""

    request_id: str
    workspace: str
    version: str
    event: str
    received_time: str
    notifications: list[ManifestEntry]
    expires_at: int  # epoch seconds, the table's TTL
    # msg_ids the queue refused: `failed` on the status route unless a sender recorded more (R8).
    not_queued: list[str] = Field(default_factory=list)
    # msg_ids never queued on purpose, with the reason (an inactive profile): `skipped` on the status route.
    skipped: dict[str, str] = Field(default_factory=dict)


class DeliveryRecord(BaseModel):
    """The sender's view of one notification: its latest state and how it got there."""

    request_id: str
    msg_id: str
    # Written with the first attempt; an outcome recorded without one (a sender that died before recording its
    # attempt) lacks them, and the status route takes both from the request's manifest anyway.
    channel: Channel | None = None
    destination: str | None = None  # masked
    state: DeliveryState = DeliveryState.queued
    attempts: int = 0
    provider: str | None = None
    provider_message_id: str | None = None
    reason: str | None = None
    updated_at: str | None = None
    sent_at: str | None = None


class ProviderSettings(BaseModel):
    """Per-workspace provider configuration (DefinitionsTable item `settings#providers`)."""

    slack_bot_token: SecretStr | None = Field(default=None)


class NotificationStatus(BaseModel):
    """One notification as the status route shows it."""

    msg_id: str
    channel: Channel
    destination: str  # masked
    state: DeliveryState
    attempts: int
    provider: str | None
    provider_message_id: str | None
    reason: str | None
    queued_at: str
    updated_at: str | None
    sent_at: str | None


class RequestStatus(BaseModel):
    """Body of `GET /v1/{workspace}/{version}/request/{request_id}`."""

    request_id: str
    event: str
    version: str
    received_time: str
    notifications: list[NotificationStatus]
