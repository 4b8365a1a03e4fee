"""Request bodies of the public API, validated before any idempotent work starts (R5)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from notify.models.callbacks import Callback
from notify.models.channels import (
    Channel,
    Destination,
    EmailDestination,
    PhoneDestination,
    WebhookDestination,
)
from notify.models.limits import (
    MAX_CANCEL_RECIPIENTS,
    MAX_CANCELLATION_KEY_CHARACTERS,
    MAX_DATA_BYTES,
    MAX_DISTINCT_ID_CHARACTERS,
    DistinctId,
    KeyName,
    bounded_json,
)


class Recipient(BaseModel):
    """`to`: one destination per channel; at least one channel unless the request names a `distinct_id`."""

    model_config = ConfigDict(extra="forbid")

    email: EmailDestination | None = None
    sms: PhoneDestination | None = None
    whatsapp: PhoneDestination | None = None
    push: Destination | None = None
    inapp: Destination | None = None
    slack: WebhookDestination | None = None
    discord: WebhookDestination | None = None
    teams: WebhookDestination | None = None
    voice: PhoneDestination | None = None

    def destinations(self) -> dict[Channel, str]:
        """The channels the request asked for, with their destinations."""
        return {Channel(name): value for name, value in self.model_dump(exclude_none=True).items()}


class Delivery(BaseModel):
    """One recipient and what fills the templates for them. Unknown fields are ignored, as Fyno does.

    With a `distinct_id`, `to` may be left out: the profile's destinations fill each channel `to` does not give
    (docs/contract.md section 6)."""

    distinct_id: DistinctId | None = None
    to: Recipient = Field(default_factory=Recipient, validate_default=True)
    # Bounded so each notification's queue message and records fit (notify.models.limits).
    data: Annotated[dict[str, Any], bounded_json(MAX_DATA_BYTES)] = Field(default_factory=dict)
    # Delivery reports (docs/contract.md section 8); endpoint names are checked against the workspace's at the door.
    # Its fields' own limits keep it within MAX_CALLBACK_BYTES (a unit test holds the two together).
    callback: Callback | None = None

    @field_validator("to")
    @classmethod
    def _someone(cls, to: Recipient, info: ValidationInfo) -> Recipient:
        # A distinct_id that failed validation is absent from info.data: its own error says enough.
        if not to.destinations() and "distinct_id" in info.data and info.data["distinct_id"] is None:
            raise ValueError(
                f"must name at least one channel ({', '.join(c.value for c in Channel)}), or give a distinct_id"
            )
        return to

    @model_validator(mode="before")
    @classmethod
    def _data_null_is_empty(cls, value: Any) -> Any:
        if isinstance(value, dict) and value.get("data", {}) is None:
            return {**value, "data": {}}
        return value


class EventRequest(Delivery):
    """Body of `POST /v1/{workspace}/{version}/event`: one event to one recipient."""

    event: KeyName


MAX_BULK_ITEMS = 1000


class BulkRequest(BaseModel):
    """Body of `POST /v1/{workspace}/{version}/event/bulk`: one event, 1 to 1000 recipients."""

    event: KeyName
    batch: list[Delivery] = Field(min_length=1, max_length=MAX_BULK_ITEMS)


class CancelRequest(BaseModel):
    """Body of `POST /v1/{workspace}/{version}/automation/{automation_id}/cancel` (C1)."""

    cancellation_key: str = Field(min_length=1, max_length=MAX_CANCELLATION_KEY_CHARACTERS)
    recipients: list[Annotated[str, Field(min_length=1, max_length=MAX_DISTINCT_ID_CHARACTERS)]] | None = Field(
        default=None,
        max_length=MAX_CANCEL_RECIPIENTS,
        description="Only the runs sent to these recipients (an email address, or a distinct_id); all when absent",
    )
