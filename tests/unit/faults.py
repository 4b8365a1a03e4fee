"""Fault injection through botocore's event hooks on the product's own clients (its code is not mocked)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError

from notify.dal.clients import client


class SimulatedLambdaTimeout(BaseException):
    """Stands for the runtime killing the invocation: not an Exception, so nothing in the handler catches it."""


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
