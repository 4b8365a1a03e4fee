"""Responses in the shape that is stored and replayed: status code, content type and exact body (R3)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from notify.errors import NotifyError

if TYPE_CHECKING:
    from notify.models.responses import ErrorBody, ResponseBody

JSON = "application/json"
# What is stored and replayed (R3): {"statusCode": int, "headers": {"Content-Type": ...}, "body": str}
StoredResponse = dict[str, Any]


def stored_response(status_code: int, body: ResponseBody) -> StoredResponse:
    """`body` (one of notify.models.responses, the OpenAPI document's models) as a stored response."""
    return {
        "statusCode": status_code,
        "headers": {"Content-Type": JSON},
        "body": json.dumps(body.body(), separators=(",", ":")),
    }


def stored_error(error: NotifyError) -> StoredResponse:
    """An error answered after execution started, as a stored response (R3): its status and body from the error
    (notify.errors: nothing else decides status codes)."""
    return stored_response(error.status_code, failure(error.message, request_id=getattr(error, "request_id", None)))


def error_body(error: NotifyError) -> dict[str, Any]:
    """`{"_message", "status": "error"}`, plus `errors` naming the fields, as ErrorBody defines it."""
    return failure(error.message, errors=error.errors or None).body()


def failure(message: str, *, request_id: str | None = None, errors: list[dict[str, Any]] | None = None) -> ErrorBody:
    """An error body; `request_id` names the request of a stored 500 that executed and failed."""
    # Imported on first use: the API functions' cold start imports no pydantic (notify/api.py).
    from notify.models.responses import ErrorBody, FieldError

    return ErrorBody(
        message=message,
        status="error",
        request_id=request_id,
        errors=[FieldError.model_validate(error) for error in errors] if errors else None,
    )
