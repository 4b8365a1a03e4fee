"""Per-workspace configuration items: event definitions (and, later, automations)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from notify.models.channels import Channel


class ChannelTemplate(BaseModel):
    """What one channel sends; strings are templates filled from the request's `data`."""

    model_config = ConfigDict(extra="allow")

    body: str = ""
    subject: str | None = None


class EventDefinition(BaseModel):
    """An event a workspace can trigger: its templates per channel."""

    name: str = Field(min_length=1, max_length=256)
    channels: dict[Channel, ChannelTemplate] = Field(min_length=1)


class ApiKeyRecord(BaseModel):
    """An API key as stored: only its SHA-256, never the key itself."""

    key_hash: str
    workspace: str
    created_at: str
    revoked_at: str | None = None
