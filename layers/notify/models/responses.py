"""Response bodies of the public API as pydantic models: what the handlers answer (notify.logic builds these
and `ResponseBody.body()` serialises them), and the OpenAPI document's source (notify.openapi). One definition
for both, so the document cannot drift from what the API sends; tests also validate real answers against them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema


class ResponseBody(BaseModel):
    """A body the API answers with; `body()` is what goes on the wire (aliases, no unset optional field)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Receipt(ResponseBody):
    """One channel of one recipient: `destination` is the one used (from `to`, else the profile of `distinct_id`);
    `msg_id` names the notification."""

    destination: str
    msg_id: str
    status: Literal["ok", "error", "skipped"]
    message: str | SkipJsonSchema[None] = Field(
        default=None,
        alias="_message",
        description="Why the notification could not be queued (status error), or is not sent (status skipped: "
        "the profile of `distinct_id` is inactive).",
    )


class ChannelReceipts(ResponseBody):
    """`{channel: receipt}` for each channel that was queued (channels the event does not define are skipped)."""

    email: Receipt | SkipJsonSchema[None] = None
    sms: Receipt | SkipJsonSchema[None] = None
    whatsapp: Receipt | SkipJsonSchema[None] = None
    push: Receipt | SkipJsonSchema[None] = None
    inapp: Receipt | SkipJsonSchema[None] = None
    slack: Receipt | SkipJsonSchema[None] = None
    discord: Receipt | SkipJsonSchema[None] = None
    teams: Receipt | SkipJsonSchema[None] = None
    voice: Receipt | SkipJsonSchema[None] = None


class EventAccepted(ResponseBody):
    """202 of `POST /v1/{workspace}/{version}/event`."""

    event: str
    received_time: str = Field(description="ISO-8601 UTC with milliseconds, e.g. 2026-11-27T23:07:54.343Z")
    request_id: str = Field(description="A UUID; usable on the status route")
    response: ChannelReceipts


class BulkItemPosition(ResponseBody):
    seq: int = Field(ge=1, description="Position in `batch`, counting from 1")
    request_id: str = Field(description="This item's own request id; usable on the status route")


class BulkItemReceipt(ChannelReceipts, BulkItemPosition):
    """One `batch` item: its position and its own request id, then its channels (fields in that order)."""


class BulkAccepted(ResponseBody):
    """202 of `POST /v1/{workspace}/{version}/event/bulk`."""

    event: str
    received_time: int = Field(description="Epoch milliseconds")
    request_id: str
    response: list[BulkItemReceipt]


class AutomationStepReceipt(ResponseBody):
    """One step of a triggered automation, queued with its delay."""

    step: int = Field(ge=1)
    event: str
    delay_seconds: int = Field(ge=0)
    response: ChannelReceipts


class AutomationAccepted(ResponseBody):
    """202 of `POST /v1/{workspace}/{version}/automation/{automation_id}/trigger`."""

    automation_id: str
    received_time: str = Field(description="ISO-8601 UTC with milliseconds")
    request_id: str
    steps: list[AutomationStepReceipt]


class FieldError(ResponseBody):
    """One field that failed validation; bulk items are named by `seq`, automation steps by `step`."""

    field: str
    message: str
    seq: int | SkipJsonSchema[None] = None
    step: int | SkipJsonSchema[None] = None


class ErrorBody(ResponseBody):
    """Every error: `{"_message", "status": "error"}`, plus `errors` when the body failed validation."""

    message: str = Field(alias="_message")
    status: Literal["error"]
    errors: list[FieldError] | SkipJsonSchema[None] = None
    request_id: str | SkipJsonSchema[None] = Field(
        default=None, description="On a stored 500: the request that executed and failed"
    )


class ProfileOk(ResponseBody):
    """200 or 201 of the Profiles API's changes: Fyno's message, e.g. `1 Record(s) updated successfully`."""

    message: str = Field(alias="_message")
    status: Literal["ok"]


class IdempotencyKeyState(ResponseBody):
    """200 of `GET /v1/{workspace}/{version}/idempotency/{api}/{key}`: what the key holds now (K1-K4)."""

    state: Literal["in_progress", "completed"]
    status_code: int | None = Field(description="The stored answer's status; null while in progress")
    response: Any = Field(
        description="The stored answer's body (parsed JSON), as the POST answered it; null while in progress"
    )
    request_id: str = Field(
        description="The request the key names in its current lifetime (usable on the status route)"
    )
    created_at: str = Field(description="When the key's lifetime was first claimed, ISO-8601 UTC with milliseconds")
    expires_at: str = Field(description="When the record expires (R6), ISO-8601 UTC with milliseconds")

    def body(self) -> dict[str, Any]:
        # Every field is always present: null says "in progress", not "unknown".
        return self.model_dump(mode="json", by_alias=True)


class CancelledStep(ResponseBody):
    """One notification of one step of a run the cancel matched."""

    request_id: str = Field(description="The run's request_id (the trigger's answer)")
    step: int = Field(ge=1)
    msg_id: str


class AutomationCancelled(ResponseBody):
    """200 of `POST /v1/{workspace}/{version}/automation/{automation_id}/cancel` (C1-C6); stored and replayed."""

    cancelled: list[CancelledStep] = Field(description="Never sent, and never will be: the status route shows them")
    already_sent: list[CancelledStep] = Field(description="Their sender had claimed them first: sent, or being sent")
