"""Channels and destination formats (docs/contract.md section 2)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, WithJsonSchema

from notify.models.limits import (
    MAX_EMAIL_CHARACTERS,
    MAX_EMAIL_LOCAL_PART_CHARACTERS,
    MAX_HOST_CHARACTERS,
    MAX_LABEL_CHARACTERS,
    MAX_PHONE_CHARACTERS,
    MAX_TOKEN_CHARACTERS,
    MAX_URL_CHARACTERS,
)


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


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_E164 = re.compile(r"\+[1-9]\d{1,14}")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
# A URL's path, query and fragment as sent on the wire: printable ASCII, no space (percent-encode the rest).
_URL_TAIL = re.compile(r"[!-~]*")


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must be a non-empty string")
    return value


def _at_most(value: str, limit: int) -> str:
    if len(value) > limit:
        raise ValueError(f"must be at most {limit} characters")
    return value


def _email(value: str) -> str:
    # fullmatch: `re.match` with `$` let a trailing newline through.
    if not _EMAIL.fullmatch(value):
        raise ValueError("must be an email address")
    _at_most(value, MAX_EMAIL_CHARACTERS)
    if len(value.rpartition("@")[0]) > MAX_EMAIL_LOCAL_PART_CHARACTERS:
        limit = MAX_EMAIL_LOCAL_PART_CHARACTERS
        raise ValueError(f"must have a local part (before the @) of at most {limit} characters")
    return value


def _e164(value: str) -> str:
    if not _E164.fullmatch(value):
        raise ValueError("must be a phone number in E.164 format, such as +14155550123")
    return value


def host_problem(host: str) -> str | None:
    """Why `host` cannot be a webhook's host name (LDH after IDNA, RFC 1123); None when it can. Checked before
    any allowlist or DNS lookup: the C resolver stops at a NUL, so `evil\x00.webhook.office.com` would look
    up `evil` while its suffix passed the allowlist."""
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return "has a host name that is not a valid internationalised domain name"
    ascii_host = ascii_host.rstrip(".").lower()
    if not ascii_host or len(ascii_host) > MAX_HOST_CHARACTERS:
        return f"must have a host name of 1 to {MAX_HOST_CHARACTERS} characters"
    labels = ascii_host.split(".")
    if not all(len(label) <= MAX_LABEL_CHARACTERS and _LABEL.fullmatch(label) for label in labels):
        return (
            f"must have a host name of letters, digits and hyphens, in dot-separated labels of 1 to "
            f"{MAX_LABEL_CHARACTERS} characters"
        )
    return None


def url_problem(value: str) -> str | None:
    """Why `value` cannot be a webhook URL (syntax only: the sender still checks hosts and addresses); None
    when it can."""
    if len(value) > MAX_URL_CHARACTERS:
        return f"must be at most {MAX_URL_CHARACTERS} characters"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return "must be a well-formed URL"
    if parts.scheme != "https":
        return "must be an https URL"
    if "@" in parts.netloc:
        return "must not carry credentials"
    problem = host_problem(parts.hostname or "")
    if problem is not None:
        return problem
    tail = value[len(parts.scheme) + 3 + len(parts.netloc) :]
    if not _URL_TAIL.fullmatch(tail):
        return "must have a path and query of printable ASCII with no spaces (percent-encode the rest)"
    return None


def _looks_like_url(value: str) -> bool:
    return "://" in value or value[:4].lower() == "http"


def _webhook_or_id(value: str) -> str:
    """A webhook URL (checked as one) or an id, user, email or channel name (no whitespace)."""
    _non_empty(value)
    if _looks_like_url(value):
        problem = url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value
    if any(ch.isspace() for ch in value) or not value.isprintable():
        raise ValueError("must be a webhook URL, user email, user id or channel")
    return _at_most(value, MAX_TOKEN_CHARACTERS)


def _token(value: str) -> str:
    _non_empty(value)
    if not value.isprintable():
        raise ValueError("must not contain control characters")
    return _at_most(value, MAX_TOKEN_CHARACTERS)


# The JSON schemas state the same rules for the OpenAPI document (notify.openapi); the validators decide.
Destination = Annotated[
    str,
    AfterValidator(_token),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_TOKEN_CHARACTERS, "pattern": r"\S"}),
]
EmailDestination = Annotated[
    str,
    AfterValidator(_email),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": MAX_EMAIL_CHARACTERS,
            "pattern": f"^{_EMAIL.pattern}$",
            "description": f"An email address (local part at most {MAX_EMAIL_LOCAL_PART_CHARACTERS} characters)",
        }
    ),
]
PhoneDestination = Annotated[
    str,
    AfterValidator(_e164),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": MAX_PHONE_CHARACTERS,
            "pattern": f"^{_E164.pattern}$",
            "description": "E.164, such as +14155550123",
        }
    ),
]
# Slack, Discord and Teams: an https webhook URL, or an id, user or channel name.
WebhookDestination = Annotated[
    str,
    AfterValidator(_webhook_or_id),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": MAX_URL_CHARACTERS,
            "pattern": r"^\S+$",
            "description": (
                f"An https webhook URL (at most {MAX_URL_CHARACTERS} characters), or a user email, user id or "
                f"channel (at most {MAX_TOKEN_CHARACTERS})"
            ),
        }
    ),
]
