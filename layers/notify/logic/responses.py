"""Responses in the shape that is stored and replayed: status code, content type and exact body (R3)."""

from __future__ import annotations

import json
from typing import Any

from notify.errors import NotifyError

JSON = "application/json"
# What is stored and replayed (R3): {"statusCode": int, "headers": {"Content-Type": ...}, "body": str}
StoredResponse = dict[str, Any]


def stored_response(status_code: int, body: dict[str, Any]) -> StoredResponse:
    return {
        "statusCode": status_code,
        "headers": {"Content-Type": JSON},
        "body": json.dumps(body, separators=(",", ":")),
    }


def error_body(error: NotifyError) -> dict[str, Any]:
    body: dict[str, Any] = {"_message": error.message, "status": "error"}
    if error.errors:
        body["errors"] = error.errors
    return body
