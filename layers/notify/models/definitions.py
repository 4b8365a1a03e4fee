"""Per-workspace configuration items: event definitions, automations, and API keys."""

from __future__ import annotations

from typing import Any, Literal

import jmespath
import jmespath.exceptions
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from notify.models.channels import Channel
from notify.models.limits import KeyName


class ChannelTemplate(BaseModel):
    """What one channel sends; strings are templates filled from the request's `data`."""

    model_config = ConfigDict(extra="allow")

    body: str = ""
    subject: str | None = None


class EventDefinition(BaseModel):
    """An event a workspace can trigger: its templates per channel."""

    name: KeyName
    channels: dict[Channel, ChannelTemplate] = Field(min_length=1)


class ApiKeyRecord(BaseModel):
    """An API key as stored: only its SHA-256, never the key itself."""

    key_hash: str
    workspace: str
    created_at: str
    revoked_at: str | None = None


MAX_STEP_DELAY_SECONDS = 365 * 24 * 60 * 60


class AutomationStep(BaseModel):
    """One step: an event sent to a recipient taken from the trigger payload, after a delay.

    `to` maps each channel to a JMESPath expression over the payload (e.g. {"email": "user.email"});
    `distinct_id` is a JMESPath expression naming the recipient's profile, whose destinations fill the channels
    `to` does not give (docs/contract.md section 6); `data` is a JMESPath expression producing the template
    data (default: the whole payload); `callback` is a JMESPath expression producing Fyno's callback object
    (docs/contract.md section 8; null or absent: no report), e.g. "callback" or
    "{custom_id: order.id, allowlist_urls: ['crm']}"; a fixed object is a JMESPath literal.
    """

    event: KeyName
    to: dict[Channel, str] = Field(default_factory=dict)
    distinct_id: str | None = None
    data: str | None = None
    callback: str | None = None
    delay_seconds: int = Field(default=0, ge=0, le=MAX_STEP_DELAY_SECONDS)

    @model_validator(mode="after")
    def _has_a_recipient(self) -> AutomationStep:
        if not self.to and not self.distinct_id:
            raise ValueError("a step needs `to` (at least one channel) or `distinct_id`")
        return self

    @field_validator("to", "data", "distinct_id", "callback")
    @classmethod
    def _compiles(cls, value: Any) -> Any:
        expressions = value.values() if isinstance(value, dict) else [value] if value else []
        for expression in expressions:
            try:
                jmespath.compile(expression)
            except jmespath.exceptions.JMESPathError as exc:
                raise ValueError(f"invalid JMESPath expression {expression!r}: {exc}") from exc
        return value


class AutomationDefinition(BaseModel):
    """A configured automation: ordered steps started by the Automations API."""

    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")
    steps: list[AutomationStep] = Field(min_length=1, max_length=50)


class IdempotencySettings(BaseModel):
    """A workspace's idempotency mode (M1): `replay` (the default, R4) replays a key's stored answer whatever the
    body; `strict` answers a key reused with a different body with a 422."""

    mode: Literal["replay", "strict"] = "replay"
