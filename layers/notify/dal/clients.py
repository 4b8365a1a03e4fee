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


@cache
def client(service: str) -> Any:
    """The container's client for `service` (endpoint from AWS_ENDPOINT_URL when set, as boto3 does)."""
    return boto3.session.Session().client(service, config=_CONFIG)


def reset_clients() -> None:
    """Forget cached clients (tests swap the backend between cases)."""
    client.cache_clear()
