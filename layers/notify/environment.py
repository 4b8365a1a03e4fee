"""The environment variables each function cannot start without, checked at cold start.

Each function's `app.py` calls `require_environment("<its directory>")` when Lambda imports it: a variable
that is missing or empty stops the container there, with one log line naming it, instead of surfacing as
a boto3 error on the first request. Only presence is checked here (no pydantic at cold start, notify/api.py);
values are validated by notify.settings on first use, with an error that names the variable too.
tests/infrastructure/test_template.py checks that the template gives every function what it requires.
"""

from __future__ import annotations

import os

from notify.observability import logger

_API = (
    "API_KEYS_TABLE",
    "DEFINITIONS_TABLE",
    "IDEMPOTENCY_TABLE",
    "NOTIFICATION_QUEUE_URL",
    "DELIVERY_LOG_TABLE",
    "PROFILES_TABLE",
    "SUPPRESSIONS_TABLE",
    "REPORT_QUEUE_URL",
)

# functions/<directory> -> the variables it requires.
REQUIRED: dict[str, tuple[str, ...]] = {
    "event_api": _API,
    "bulk_api": _API,
    "automation_api": _API,
    "status_api": ("API_KEYS_TABLE", "DELIVERY_LOG_TABLE", "IDEMPOTENCY_TABLE"),
    "profiles_api": ("API_KEYS_TABLE", "PROFILES_TABLE", "SUPPRESSIONS_TABLE"),
    "sender": (
        "DEFINITIONS_TABLE",
        "IDEMPOTENCY_TABLE",
        "DELIVERY_LOG_TABLE",
        "INBOX_TABLE",
        "NOTIFICATION_QUEUE_URL",
        "PROVIDER_SECRETS_PATH",
        "SUPPRESSIONS_TABLE",
        "REPORT_QUEUE_URL",
        "SES_CONFIGURATION_SET",
    ),
    "reporter": ("DEFINITIONS_TABLE", "REPORT_QUEUE_URL", "CALLBACK_SECRETS_PATH"),
    "provider_events": ("DELIVERY_LOG_TABLE", "SUPPRESSIONS_TABLE", "REPORT_QUEUE_URL"),
    "openapi_api": (),
}


def missing_variables(function: str) -> list[str]:
    """The variables `function` requires that are unset or blank here."""
    return [name for name in REQUIRED[function] if not os.environ.get(name, "").strip()]


def require_environment(function: str) -> None:
    """Stop this container (SystemExit: Lambda reports an init failure) when a required variable is missing."""
    missing = missing_variables(function)
    if missing:
        logger.critical(
            f"cannot start {function}: environment variable {', '.join(missing)} is missing or empty",
            extra={"missing_variables": missing},
        )
        raise SystemExit(1)
