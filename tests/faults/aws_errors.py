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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse

from notify.dal.clients import client
from tests.unit.faults import call_matches, operations_writing


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
    names = [f"before-send.{service}.{name}" for name in operations_writing(service, operation)]

    def answer(request: Any, **_: Any) -> AWSResponse | None:
        params = _target(request)
        if not call_matches(params, operation, table):
            return None
        if times is not None and len(answered) >= times:
            return None
        answered.append(params)
        answered_urls[id(request)] = request.url
        request.url = UNSERVED_URL
        body, headers = _error_body(service, error)
        return AWSResponse(answered_urls[id(request)], error.status, headers, _Body(body))

    def restore(request: Any, **_: Any) -> None:
        original = answered_urls.pop(id(request), None)
        if original is not None:
            request.url = original

    events = client(service).meta.events
    # More specific events come first: `answer` runs before moto's `before-send`, `restore` after it.
    for event in names:
        events.register_first(event, answer, unique_id=f"aws-error-{event}")
    events.register_last("before-send", restore, unique_id=f"aws-error-restore-{names[0]}")
    try:
        yield answered
    finally:
        for event in names:
            events.unregister(event, unique_id=f"aws-error-{event}")
        events.unregister("before-send", unique_id=f"aws-error-restore-{names[0]}")


def _error_body(service: str, error: AwsError) -> tuple[bytes, dict[str, str]]:
    """The error answer as the service's protocol writes it (JSON for DynamoDB/SQS/SES v2, XML for SNS)."""
    protocol = client(service).meta.service_model.protocol
    if protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>{'Receiver' if error.status >= 500 else 'Sender'}</Type>"
            f"<Code>{error.code}</Code><Message>{error.message}</Message></Error>"
            "<RequestId>fault-suite</RequestId></ErrorResponse>"
        ).encode()
        return body, {"Content-Type": "text/xml", "x-amzn-RequestId": "fault-suite"}
    body = json.dumps({"__type": error.code, "message": error.message}).encode()
    return body, {"Content-Type": "application/json", "x-amzn-ErrorType": error.code, "x-amzn-RequestId": "fault-suite"}


def provider_error(service: str, operation: str, error: AwsError, *, times: int | None = None) -> Any:
    """A provider (SES v2, SNS) answers `error` without taking the message: aws_error, whose answer is written
    in the service's own protocol (XML for SNS)."""
    return aws_error(service, operation, error, times=times)


@contextmanager
def transport_failure(
    service: str,
    operation: str,
    failure: Callable[[Any], Exception],
    *,
    accepted: bool,
    times: int | None = None,
) -> Iterator[list[Any]]:
    """`service.operation` fails in transport, as urllib3 would inside botocore's send (so botocore's retry
    logic sees it): before the request left (`accepted=False`: moto never sees it), or after moto carried
    it out (`accepted=True`: the provider took the message, its answer never came back).

    `failure(request)` builds the exception; yields each request that failed.
    """
    failed: list[Any] = []
    event = f"before-send.{service}.{operation}"

    def before(request: Any, **_: Any) -> None:
        if times is not None and len(failed) >= times:
            return
        failed.append(request)
        raise failure(request)

    def after(request: Any, event_name: str = "", **_: Any) -> None:
        # Registered last on every before-send: runs once moto answered (and so carried out) the call.
        if event_name != event or (times is not None and len(failed) >= times):
            return
        failed.append(request)
        raise failure(request)

    events = client(service).meta.events
    if accepted:
        events.register_last("before-send", after, unique_id=f"transport-after-{event}")
    else:
        events.register_first(event, before, unique_id=f"transport-before-{event}")
    try:
        yield failed
    finally:
        if accepted:
            events.unregister("before-send", unique_id=f"transport-after-{event}")
        else:
            events.unregister(event, unique_id=f"transport-before-{event}")
