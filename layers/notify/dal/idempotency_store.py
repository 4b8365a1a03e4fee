"""Powertools' DynamoDB idempotency persistence, extended with a per-request expiry (R6)."""

from __future__ import annotations

from contextvars import ContextVar
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from notify.dal.clients import client
from notify.settings import get_settings

# The expiry of the request being claimed or completed. A context variable, not an attribute,
# because one persistence layer serves concurrent requests (threads in tests and in the local stack).
_request_expiry: ContextVar[int | None] = ContextVar("request_expiry", default=None)


class RequestExpiryDynamoDBPersistenceLayer(DynamoDBPersistenceLayer):
    """Records expire at the request's `expires_at` (epoch seconds) when it has one, else after the default.

    Powertools writes the expiry twice, when claiming (INPROGRESS) and when completing; both
    writes belong to the first request, so its expiry stays final until it passes (R6).
    """

    def save_inprogress(self, data: dict[str, Any], remaining_time_in_millis: int | None = None) -> None:
        token = _request_expiry.set(data.get("expires_at"))
        try:
            super().save_inprogress(data, remaining_time_in_millis)
        finally:
            _request_expiry.reset(token)

    def save_success(self, data: dict[str, Any], result: dict) -> None:
        token = _request_expiry.set(data.get("expires_at"))
        try:
            super().save_success(data, result)
        finally:
            _request_expiry.reset(token)

    def _get_expiry_timestamp(self) -> int:
        return _request_expiry.get() or super()._get_expiry_timestamp()


@cache
def idempotency_store(api: str) -> RequestExpiryDynamoDBPersistenceLayer:
    """One persistence layer per API per container (Powertools configures a layer once)."""
    return RequestExpiryDynamoDBPersistenceLayer(
        table_name=get_settings().idempotency_table,
        boto3_client=client("dynamodb"),
    )
