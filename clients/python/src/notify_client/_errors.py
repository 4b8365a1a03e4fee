"""What a call answers: a `Result`, or one of these exceptions, each carrying the Idempotency-Key it used."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Result:
    """A 2xx answer: its status, parsed JSON body, whether the server replayed it, and the key the call sent."""

    status_code: int
    body: Any
    replayed: bool
    idempotency_key: str | None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    attempts: int = 1

    @property
    def request_id(self) -> str | None:
        """The answer's `request_id`, where it has one (Event, Bulk, Automations)."""
        value = self.body.get("request_id") if isinstance(self.body, dict) else None
        return value if isinstance(value, str) else None


class NotifyError(Exception):
    """Base of the client's errors. `idempotency_key` is the key sent: retry later with it to stay exactly-once."""

    def __init__(self, message: str, *, idempotency_key: str | None, attempts: int) -> None:
        super().__init__(message)
        self.idempotency_key = idempotency_key
        self.attempts = attempts


class ApiError(NotifyError):
    """The server's final non-2xx answer: a 4xx at once, or a 409, 429 or 5xx still there when the deadline ran out."""

    def __init__(
        self,
        status_code: int,
        body: Any,
        *,
        idempotency_key: str | None,
        replayed: bool = False,
        headers: Mapping[str, str] | None = None,
        attempts: int = 1,
    ) -> None:
        self.status_code = status_code
        self.body = body
        self.replayed = replayed
        self.headers: Mapping[str, str] = headers or {}
        detail = body if isinstance(body, dict) else {}
        message = detail.get("_message")
        self.message: str = message if isinstance(message, str) else (body if isinstance(body, str) else "")
        errors = detail.get("errors")
        self.errors: list[Any] = errors if isinstance(errors, list) else []
        # Whether the same call, later and with the same key, may still succeed.
        self.retryable = status_code in RETRYABLE_STATUSES or status_code >= 500
        text = f"{status_code} {self.message}".rstrip()
        if idempotency_key is not None:
            text += f" (Idempotency-Key: {idempotency_key})"
        super().__init__(text, idempotency_key=idempotency_key, attempts=attempts)


class TransportError(NotifyError):
    """No answer within the deadline (connection refused or lost, timeouts); the cause is chained."""


RETRYABLE_STATUSES = frozenset({409, 429})
