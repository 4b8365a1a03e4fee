"""Fault injection through botocore's event hooks on the product's own clients (its code is never patched).

Three kinds, by where the fault sits:
- `fail_call`: the call raises before it is made (or after it succeeded), as a refused connection would;
- `aws_error`: AWS answers with an error response, parsed and retried by botocore as a real one is;
- `transport_failure`: the transport fails before the request left, or after the service carried it out.

On `aws_error`: botocore calls every `before-send` handler and keeps the first response, so moto's handler (after
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
from botocore.exceptions import EndpointConnectionError

from notify.dal.clients import client


class SimulatedLambdaTimeout(BaseException):
    """Stands for the runtime killing the invocation: not an Exception, so nothing in the handler catches it."""


def time_out(**_: Any) -> None:
    """A fault action: the runtime kills the invocation during the call."""
    raise SimulatedLambdaTimeout()


def unreachable(**_: Any) -> None:
    raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")


# An item write can also travel in a TransactWriteItems (a keyed request's completion carries its manifests).
TRANSACT_KINDS = {"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}


def operations_writing(service: str, operation: str) -> list[str]:
    """`operation`, and TransactWriteItems when it is a DynamoDB item write a transaction can carry."""
    if service == "dynamodb" and operation in TRANSACT_KINDS:
        return [operation, "TransactWriteItems"]
    return [operation]


def call_matches(params: dict[str, Any], operation: str, table: str | None) -> bool:
    """Whether a call's parameters are `operation` on `table` (any table when None), in a transaction too."""
    if "TransactItems" in params:
        kind = TRANSACT_KINDS.get(operation)
        return any(
            kind in item and (table is None or item[kind].get("TableName") == table) for item in params["TransactItems"]
        )
    if "RequestItems" in params:  # BatchGetItem, BatchWriteItem
        return table is None or table in params["RequestItems"]
    return table is None or params.get("TableName") == table


@contextmanager
def fail_call(
    service: str,
    operation: str,
    *,
    table: str | None = None,
    action: Callable[..., Any] = unreachable,
    after: bool = False,
) -> Iterator[list[dict[str, Any]]]:
    """Make `service.operation` (optionally on one table) run `action`, before the call or after it succeeded.

    Yields the list of calls it intercepted.
    """
    intercepted: list[dict[str, Any]] = []
    # before-parameter-build sees the API parameters (TableName...); after-call runs once the call succeeded.
    assert not (after and table), "after-call hooks cannot tell tables apart"
    names = [
        f"{'after-call' if after else 'before-parameter-build'}.{service}.{name}"
        for name in operations_writing(service, operation)
    ]

    def hook(**kwargs: Any) -> None:
        params = kwargs.get("params", {})
        if not after and not call_matches(params, operation, table):
            return
        intercepted.append(params)
        action(**kwargs)

    events = client(service).meta.events
    for event in names:
        events.register(event, hook, unique_id=f"fault-{event}")
    try:
        yield intercepted
    finally:
        for event in names:
            events.unregister(event, unique_id=f"fault-{event}")


@contextmanager
def queue_refuses(marker: str) -> Iterator[None]:
    """SQS refuses (in its answer's `Failed`) every entry whose body carries `marker`; the others are queued."""
    refused: list[str] = []
    events = client("sqs").meta.events

    def failures() -> list[dict[str, Any]]:
        failed = [{"Id": i, "SenderFault": False, "Code": "InternalError", "Message": "simulated"} for i in refused]
        refused.clear()
        return failed

    def drop(params: dict[str, Any], **_: Any) -> Any:
        body = json.loads(params["body"])
        kept = [entry for entry in body["Entries"] if marker not in entry["MessageBody"]]
        refused.extend(entry["Id"] for entry in body["Entries"] if marker in entry["MessageBody"])
        if not kept:
            return AWSResponse("https://sqs.us-east-1.amazonaws.com/", 200, {}, None), {
                "Successful": [],
                "Failed": failures(),
            }
        params["body"] = json.dumps({**body, "Entries": kept}).encode()
        return None

    def answer(parsed: dict[str, Any], **_: Any) -> None:
        parsed.setdefault("Failed", []).extend(failures())

    events.register("before-call.sqs.SendMessageBatch", drop, unique_id="refuse-drop")
    events.register("after-call.sqs.SendMessageBatch", answer, unique_id="refuse-answer")
    try:
        yield
    finally:
        events.unregister("before-call.sqs.SendMessageBatch", unique_id="refuse-drop")
        events.unregister("after-call.sqs.SendMessageBatch", unique_id="refuse-answer")


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
