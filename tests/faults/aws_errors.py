"""AWS answering with an error, injected at botocore's `before-send` on the product's own clients.

Unlike tests/unit/faults.py (which raises before the call), the error arrives as an HTTP response, so
botocore parses and retries it exactly as it would a real throttling or 5xx answer from AWS.

botocore calls every `before-send` handler and keeps the first response, so moto's handler (after
ours) would still carry out a call we answered: a throttled PutItem would write its item. An answered
request is therefore pointed, for the rest of that emit, at a loopback URL moto does not serve, and
pointed back by a handler that runs after moto's (botocore sends the same request again on a retry).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse

from notify.dal.clients import client


@dataclass(frozen=True)
class AwsError:
    """An error answer of a JSON-protocol service (DynamoDB, SQS): HTTP status and `__type` code."""

    status: int
    code: str
    message: str = "injected by the fault suite"


# What DynamoDB answers when a table or partition is over its capacity, or the service fails.
PROVISIONED_THROUGHPUT_EXCEEDED = AwsError(400, "ProvisionedThroughputExceededException")
THROTTLING = AwsError(400, "ThrottlingException")
DYNAMODB_INTERNAL_ERROR = AwsError(500, "InternalServerError")
SQS_SERVICE_UNAVAILABLE = AwsError(503, "ServiceUnavailable")
# Matches no moto backend; on loopback, so nothing could leave the machine even if it were sent.
UNSERVED_URL = "http://127.0.0.1:9/fault-suite"


class _Body:
    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.payload


def _target(request: Any) -> dict[str, Any]:
    try:
        params = json.loads(request.body or b"{}")
    except (TypeError, ValueError):
        return {}
    return params if isinstance(params, dict) else {}


@contextmanager
def aws_error(
    service: str, operation: str, error: AwsError, *, table: str | None = None, times: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """`service.operation` (optionally on one DynamoDB table) gets `error` from AWS, every time or the first `times`.

    Yields the parameters of every call that got the error (botocore's retries included).
    """
    answered: list[dict[str, Any]] = []
    answered_urls: dict[int, str] = {}
    event = f"before-send.{service}.{operation}"

    def answer(request: Any, **_: Any) -> AWSResponse | None:
        params = _target(request)
        if table is not None and params.get("TableName") != table:
            return None
        if times is not None and len(answered) >= times:
            return None
        answered.append(params)
        answered_urls[id(request)] = request.url
        request.url = UNSERVED_URL
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "fault-suite"}
        return AWSResponse(answered_urls[id(request)], error.status, headers, _Body(body))

    def restore(request: Any, **_: Any) -> None:
        original = answered_urls.pop(id(request), None)
        if original is not None:
            request.url = original

    events = client(service).meta.events
    # More specific events come first: `answer` runs before moto's `before-send`, `restore` after it.
    events.register_first(event, answer, unique_id=f"aws-error-{event}")
    events.register_last("before-send", restore, unique_id=f"aws-error-restore-{event}")
    try:
        yield answered
    finally:
        events.unregister(event, unique_id=f"aws-error-{event}")
        events.unregister("before-send", unique_id=f"aws-error-restore-{event}")
