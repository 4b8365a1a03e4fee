"""Channels and destination formats (docs/contract.md section 2)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema


class Channel(StrEnum):
    email = "email"
    sms = "sms"
    whatsapp = "whatsapp"
    push = "push"
    inapp = "inapp"
    slack = "slack"
    discord = "discord"
    teams = "teams"
    voice = "voice"


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must be a non-empty string")
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("must be an email address")
    return value


def _e164(value: str) -> str:
    if not _E164.match(value):
        raise ValueError("must be a phone number in E.164 format, such as +14155550123")
    return value


def _slack(value: str) -> str:
    _non_empty(value)
    if value.lower().startswith("http") and not value.startswith("https://"):
        raise ValueError("a Slack webhook URL must use https")
    if any(ch.isspace() for ch in value):
        raise ValueError("must be a webhook URL, user email, user id or channel")
    return value


# The JSON schemas state the same rules for the OpenAPI document (notify.openapi); the validators decide.
Destination = Annotated[
    str, AfterValidator(_non_empty), WithJsonSchema({"type": "string", "minLength": 1, "pattern": r"\S"})
]
EmailDestination = Annotated[
    str,
    AfterValidator(_email),
    WithJsonSchema({"type": "string", "pattern": _EMAIL.pattern, "description": "An email address"}),
]
PhoneDestination = Annotated[
    str,
    AfterValidator(_e164),
    WithJsonSchema({"type": "string", "pattern": _E164.pattern, "description": "E.164, such as +14155550123"}),
]
SlackDestination = Annotated[
    str,
    AfterValidator(_slack),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\S+$",
            "description": "An https webhook URL, a user email, a user id or a channel",
        }
    ),
]
