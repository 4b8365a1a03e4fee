"""boto3 clients, one per container, created on first use with explicit timeouts and retries."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Short timeouts: the API must answer well inside API Gateway's 29 s, and a hung store is a 503 (R9).
_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"max_attempts": 3, "mode": "standard"},
)
# Providers deliver to a person: botocore must never send a request again on its own, since after a read
# timeout, a lost answer or a 5xx the provider may already have sent it (R8). The sender decides what to
# retry (only failures known to happen before the provider got the request), through SQS.
PROVIDER_CONNECT_TIMEOUT_SECONDS = 2
PROVIDER_READ_TIMEOUT_SECONDS = 5
_PROVIDER_CONFIG = Config(
    connect_timeout=PROVIDER_CONNECT_TIMEOUT_SECONDS,
    read_timeout=PROVIDER_READ_TIMEOUT_SECONDS,
    retries={"total_max_attempts": 1, "mode": "standard"},
)
PROVIDER_SERVICES = frozenset({"sesv2", "sns"})
# The longest a provider call can take: one connection attempt and one read, no retry.
PROVIDER_CALL_SECONDS = PROVIDER_CONNECT_TIMEOUT_SECONDS + PROVIDER_READ_TIMEOUT_SECONDS


@cache
def client(service: str) -> Any:
    """The container's client for `service` (endpoint from AWS_ENDPOINT_URL when set, as boto3 does)."""
    config = _PROVIDER_CONFIG if service in PROVIDER_SERVICES else _CONFIG
    return boto3.session.Session().client(service, config=config)


def reset_clients() -> None:
    """Forget cached clients (tests swap the backend between cases)."""
    client.cache_clear()
