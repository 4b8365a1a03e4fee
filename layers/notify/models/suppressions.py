"""Fyno's suppression list: bodies and answers of `/v1/{workspace}/suppressions` (docs/contract.md section 8)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from notify.models.channels import Channel
from notify.models.limits import (
    MAX_SUPPRESSION_DESCRIPTION_CHARACTERS,
    MAX_SUPPRESSION_SECONDS,
    DistinctId,
)
from notify.models.requests import Recipient


class InvalidDestination(ValueError):
    """Fyno's answer to a destination its channel does not take: `Invalid destination for channel <c>`."""

    def __init__(self, channel: Channel, problem: str) -> None:
        super().__init__(f"Invalid destination for channel {channel.value}")
        self.channel, self.problem = channel, problem


def checked_destination(channel: Channel, destination: str) -> str:
    """`destination` when `channel` takes it, as `to` would (the same lengths and forms); else InvalidDestination."""
    try:
        Recipient.model_validate({channel.value: destination})
    except ValidationError as exc:
        raise InvalidDestination(channel, exc.errors(include_url=False)[0]["msg"]) from None
    return destination


def epoch_seconds(value: int | float | str) -> int:
    """An `expiry_ts` as epoch seconds: a number of seconds (milliseconds past 10^11, as JavaScript gives them),
    or an ISO-8601 time (UTC unless it says otherwise)."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("must be epoch seconds or an ISO-8601 time") from None
        return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())
    seconds = value / 1000 if value > 10**11 else value
    return int(seconds)


class SuppressionCreate(BaseModel):
    """`POST /v1/{workspace}/suppressions`: a destination, or a `distinct_id`, on one channel."""

    model_config = ConfigDict(extra="forbid")

    distinct_id: DistinctId | None = None
    destination: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    channel: Channel
    description: Annotated[str, Field(max_length=MAX_SUPPRESSION_DESCRIPTION_CHARACTERS)] | None = None
    expiry_ts: Annotated[int | float | str, Field(union_mode="left_to_right")] | None = None

    @field_validator("expiry_ts")
    @classmethod
    def _future(cls, value: int | float | str | None) -> int | float | str | None:
        if value is None:
            return None
        if isinstance(value, str) and len(value) > 64:
            raise ValueError("must be epoch seconds or an ISO-8601 time")
        try:
            seconds = epoch_seconds(value)
        except (OverflowError, ValueError):  # Infinity, NaN, a 400-digit number, a malformed time
            raise ValueError("must be epoch seconds or an ISO-8601 time") from None
        now = datetime.now(UTC).timestamp()
        if seconds <= now:
            raise ValueError("must be in the future")
        if seconds > now + MAX_SUPPRESSION_SECONDS:
            raise ValueError(f"must be at most {MAX_SUPPRESSION_SECONDS // 86400} days ahead")
        return seconds

    @model_validator(mode="after")
    def _one_recipient(self) -> SuppressionCreate:
        if (self.distinct_id is None) == (self.destination is None):
            raise ValueError("give exactly one of 'distinct_id' and 'destination'")
        return self

    def expires_at(self) -> int | None:
        return None if self.expiry_ts is None else int(self.expiry_ts)


class Suppression(BaseModel):
    """One entry of the list, as `GET /v1/{workspace}/suppressions` answers it."""

    id: str = Field(alias="_id", serialization_alias="_id")
    destination: str | None = None
    distinct_id: str | None = None
    channel: Channel
    description: str | None = None
    created_at: str
    expiry_ts: str | None = None

    model_config = ConfigDict(populate_by_name=True)

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)
