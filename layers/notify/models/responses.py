"""Response bodies of the public API as pydantic models: the OpenAPI document's source (notify.openapi).

The handlers build these bodies as dicts (notify.logic); tests validate real answers against these models,
so the document cannot drift from what the API sends.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema


class Receipt(BaseModel):
    """One channel of one recipient: `destination` echoes the request; `msg_id` names the notification."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    destination: str
    msg_id: str
    status: Literal["ok", "error"]
    message: str | SkipJsonSchema[None] = Field(
        default=None, alias="_message", description="Why the notification could not be queued (status error)."
    )


class ChannelReceipts(BaseModel):
    """`{channel: receipt}` for each channel that was queued (channels the event does not define are skipped)."""

    model_config = ConfigDict(extra="forbid")

    email: Receipt | SkipJsonSchema[None] = None
    sms: Receipt | SkipJsonSchema[None] = None
    whatsapp: Receipt | SkipJsonSchema[None] = None
    push: Receipt | SkipJsonSchema[None] = None
    inapp: Receipt | SkipJsonSchema[None] = None
    slack: Receipt | SkipJsonSchema[None] = None
    discord: Receipt | SkipJsonSchema[None] = None
    teams: Receipt | SkipJsonSchema[None] = None
    voice: Receipt | SkipJsonSchema[None] = None


class EventAccepted(BaseModel):
    """202 of `POST /v1/{workspace}/{version}/event`."""

    model_config = ConfigDict(extra="forbid")

    event: str
    received_time: str = Field(description="ISO-8601 UTC with milliseconds, e.g. 2026-11-27T23:07:54.343Z")
    request_id: str = Field(description="A UUID; usable on the status route")
    response: ChannelReceipts


class BulkItemReceipt(ChannelReceipts):
    """One `batch` item: its position and its own request id, then its channels."""

    seq: int = Field(ge=1, description="Position in `batch`, counting from 1")
    request_id: str = Field(description="This item's own request id; usable on the status route")


class BulkAccepted(BaseModel):
    """202 of `POST /v1/{workspace}/{version}/event/bulk`."""

    model_config = ConfigDict(extra="forbid")

    event: str
    received_time: int = Field(description="Epoch milliseconds")
    request_id: str
    response: list[BulkItemReceipt]


class AutomationStepReceipt(BaseModel):
    """One step of a triggered automation, queued with its delay."""

    model_config = ConfigDict(extra="forbid")

    step: int = Field(ge=1)
    event: str
    delay_seconds: int = Field(ge=0)
    response: ChannelReceipts


class AutomationAccepted(BaseModel):
    """202 of `POST /v1/{workspace}/{version}/automation/{automation_id}/trigger`."""

    model_config = ConfigDict(extra="forbid")

    automation_id: str
    received_time: str = Field(description="ISO-8601 UTC with milliseconds")
    request_id: str
    steps: list[AutomationStepReceipt]


class FieldError(BaseModel):
    """One field that failed validation; bulk items are named by `seq`, automation steps by `step`."""

    model_config = ConfigDict(extra="forbid")

    field: str
    message: str
    seq: int | SkipJsonSchema[None] = None
    step: int | SkipJsonSchema[None] = None


class ErrorBody(BaseModel):
    """Every error: `{"_message", "status": "error"}`, plus `errors` when the body failed validation."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    message: str = Field(alias="_message")
    status: Literal["error"]
    errors: list[FieldError] | SkipJsonSchema[None] = None
    request_id: str | SkipJsonSchema[None] = Field(
        default=None, description="On a stored 500: the request that executed and failed"
    )
