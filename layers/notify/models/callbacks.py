"""Delivery reports (docs/contract.md section 8): the `callback` object a request carries, a workspace's
allowlisted endpoints, and the report queued for the reporter."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from notify.models.limits import (
    MAX_CALLBACK_CUSTOM_CHARACTERS,
    MAX_CALLBACK_CUSTOM_ID_CHARACTERS,
    MAX_CALLBACK_CUSTOM_ID_DIGITS,
    MAX_CALLBACK_ENDPOINT_NAME_CHARACTERS,
    MAX_CALLBACK_ENDPOINTS,
)

ENDPOINT_NAME = re.compile(rf"^[A-Za-z0-9._-]{{1,{MAX_CALLBACK_ENDPOINT_NAME_CHARACTERS}}}$")


def _endpoint_name(value: str) -> str:
    if not ENDPOINT_NAME.match(value):
        raise ValueError(
            f"must be 1-{MAX_CALLBACK_ENDPOINT_NAME_CHARACTERS} letters, digits, '.', '-' or '_' (an endpoint's name)"
        )
    return value


EndpointName = Annotated[str, Field(min_length=1, max_length=MAX_CALLBACK_ENDPOINT_NAME_CHARACTERS)]


class Callback(BaseModel):
    """Fyno's `callback` object. Every field is checked; an unknown one is a 400, never ignored."""

    model_config = ConfigDict(extra="forbid")

    # Checked whole by _string_or_integer, so an error names the rule once (not one per member of the union).
    custom_id: str | int | None = None
    custom1: Annotated[str, Field(max_length=MAX_CALLBACK_CUSTOM_CHARACTERS)] | None = None
    custom2: Annotated[str, Field(max_length=MAX_CALLBACK_CUSTOM_CHARACTERS)] | None = None
    enable: StrictBool | None = None  # a JSON true or false, never "yes" or 1
    allowlist_urls: list[EndpointName] | None = Field(default=None, max_length=MAX_CALLBACK_ENDPOINTS)

    @field_validator("custom_id", mode="before")
    @classmethod
    def _string_or_integer(cls, value: Any) -> Any:
        # Only a JSON string or integer: true, 1.5 or 1e3 would become an integer silently.
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
            raise ValueError(
                f"must be a string of at most {MAX_CALLBACK_CUSTOM_ID_CHARACTERS} characters "
                f"or an integer of at most {MAX_CALLBACK_CUSTOM_ID_DIGITS} digits"
            )
        if isinstance(value, int) and len(str(abs(value))) > MAX_CALLBACK_CUSTOM_ID_DIGITS:
            raise ValueError(f"an integer custom_id must have at most {MAX_CALLBACK_CUSTOM_ID_DIGITS} digits")
        if isinstance(value, str) and len(value) > MAX_CALLBACK_CUSTOM_ID_CHARACTERS:
            raise ValueError(f"a string custom_id must have at most {MAX_CALLBACK_CUSTOM_ID_CHARACTERS} characters")
        return value

    @field_validator("allowlist_urls")
    @classmethod
    def _names(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [_endpoint_name(name) for name in value]

    @property
    def enabled(self) -> bool:
        """Fyno's rule: `enable` when given, otherwise on exactly when a custom_id is."""
        return self.enable if self.enable is not None else self.custom_id is not None


class CallbackEndpoint(BaseModel):
    """One allowlisted report endpoint of a workspace (DefinitionsTable item `callback#<name>`). Its signing
    secret is an SSM SecureString only the reporter reads (notify.dal.callbacks)."""

    name: EndpointName
    url: str
    default: bool = False


class Report(BaseModel):
    """What the receiver gets: one notification's state (docs/contract.md section 8)."""

    custom_id: str | int | None
    custom1: str | None
    custom2: str | None
    request_id: str
    msg_id: str
    channel: str
    destination: str  # masked, as the status route shows it
    status: str
    reason: str | None
    provider_message_id: str | None
    timestamp: str


class ReportMessage(BaseModel):
    """A message on the report queue: the report, where it goes, and its Standard Webhooks id (the same for
    every retry of one report, different per (msg_id, status))."""

    workspace: str
    webhook_id: str
    # Endpoint names from allowlist_urls; empty: the workspace's default endpoint.
    endpoints: list[str] = Field(default_factory=list)
    report: Report
