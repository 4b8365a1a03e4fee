"""Faults on the product's external calls, through botocore's hooks on its own clients (as tests/support/faults.py
does; the product's code is never patched).

Kinds, by what the service did and what the caller saw:
- refused: no connection (the request never left);
- throttled / server_error: the service answered 400 ThrottlingException / 500 (nothing was carried out);
- hung: no answer until the read timeout (the clock moves by it; nothing was carried out);
- timed_out_after / answer_lost: the service carried the call out, its answer never came back (moto carries it
  out in its before-send handler; DynamoDB Local gets it sent here first);
- killed_before / killed_after: the Lambda runtime ends the invocation before the call, or after it succeeded.
A fault fires on the first `times` matching calls (botocore's own retries included) while its step runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from botocore.httpsession import URLLib3Session

from notify.dal.clients import MIN_ATTEMPT_SECONDS, READ_TIMEOUT_SECONDS, client
from notify.deadline import seconds_left
from tests.support.faults import (
    DYNAMODB_INTERNAL_ERROR,
    THROTTLING,
    UNSERVED_URL,
    AwsError,
    SimulatedLambdaTimeout,
    _Body,
    _error_body,
)

KINDS = (
    "refused",
    "throttled",
    "server_error",
    "hung",
    "timed_out_after",
    "answer_lost",
    "killed_before",
    "killed_after",
)
# Endpoints served over HTTP rather than by moto in process (DynamoDB Local with `--dynamodb-local`).
LOOPBACK = {"127.0.0.1", "localhost"}
# Kinds after which the service may have carried the call out: a provider's outcome is then ambiguous.
AMBIGUOUS = {"timed_out_after", "answer_lost", "killed_after", "server_error"}


@dataclass(frozen=True)
class Target:
    """An external call: a service operation, on one table for DynamoDB (its logical id in the template)."""

    service: str
    operation: str
    table: str | None = None

    def __str__(self) -> str:
        return f"{self.service}.{self.operation}" + (f"@{self.table}" if self.table else "")


def _dynamodb(operations: str, table: str) -> list[Target]:
    return [Target("dynamodb", operation, table) for operation in operations.split()]


# What the API functions call (auth, the idempotency store, definitions, profiles, the delivery log, the queue).
API_TARGETS = [
    *_dynamodb("GetItem", "ApiKeysTable"),
    *_dynamodb("PutItem GetItem UpdateItem DeleteItem TransactWriteItems", "IdempotencyTable"),
    *_dynamodb("GetItem BatchGetItem", "DefinitionsTable"),
    *_dynamodb("GetItem BatchGetItem", "ProfilesTable"),
    *_dynamodb("PutItem BatchWriteItem TransactWriteItems", "DeliveryLogTable"),
    Target("sqs", "SendMessageBatch"),
]
# What a cancel calls besides: the Query of its key's index (C1), one TransactWriteItems per step (C4).
CANCEL_TARGETS = [*API_TARGETS, *_dynamodb("Query", "DeliveryLogTable")]
# What the sender calls (its msg_id guard, the notification's delivery item: the claim's and the outcome's PutItem, a
# later claim's, a release's or an outcome's UpdateItem, the read of what holds a claim; the guards an earlier sender
# kept in the idempotency table; definitions; the providers; the queue for deferrals).
SENDER_TARGETS = [
    *_dynamodb("PutItem GetItem UpdateItem", "DeliveryLogTable"),
    *_dynamodb("GetItem", "IdempotencyTable"),
    *_dynamodb("GetItem", "DefinitionsTable"),
    Target("sesv2", "SendEmail"),
    Target("sns", "Publish"),
    Target("sqs", "SendMessageBatch"),
]
PROVIDERS = {"sesv2", "sns"}


@dataclass(frozen=True)
class Fault:
    target: Target
    kind: str
    times: int

    def __str__(self) -> str:
        return f"{self.kind} x{self.times} on {self.target}"


def _tables_of(request: Any) -> set[str]:
    try:
        params = json.loads(request.body or b"{}")
    except (TypeError, ValueError):
        return set()
    if not isinstance(params, dict):
        return set()
    tables = {params["TableName"]} if "TableName" in params else set()
    tables |= set(params.get("RequestItems", {}))
    for entry in params.get("TransactItems", []):
        tables |= {operation.get("TableName") for operation in entry.values()}
    return tables


@dataclass
class Injection:
    """A fault while it is active: how many times it fired, and the provider calls it made ambiguous."""

    fault: Fault
    fired: int = 0


@contextmanager
def inject(fault: Fault | None, tables: dict[str, str], clock: Any) -> Iterator[Injection | None]:
    """Make `fault` happen on its target's calls inside the block."""
    if fault is None:
        yield None
        return
    injection = Injection(fault)
    target, kind = fault.target, fault.kind
    event = f"before-send.{target.service}.{target.operation}"
    table = tables[target.table] if target.table else None
    answered_urls: dict[int, str] = {}

    def matches(request: Any) -> bool:
        if injection.fired >= fault.times:
            return False
        return table is None or table in _tables_of(request)

    def before(request: Any, **_: Any) -> AWSResponse | None:
        if kind not in ("refused", "hung", "killed_before", "throttled", "server_error") or not matches(request):
            return None
        injection.fired += 1
        if kind == "refused":
            raise EndpointConnectionError(endpoint_url=request.url)
        if kind == "hung":
            # The caller waits its read timeout, which the product cuts to its invocation's time left; with less
            # than an attempt's minimum left, its guard refuses the call before this (and nothing hangs).
            left = seconds_left()
            if left is not None and left < MIN_ATTEMPT_SECONDS:
                injection.fired -= 1
                return None
            waited = min(read_timeout, left) if left is not None else read_timeout
            clock.tick(timedelta(seconds=waited))
            raise ReadTimeoutError(endpoint_url=request.url)
        if kind == "killed_before":
            raise SimulatedLambdaTimeout()
        # An answer of ours; moto must not carry the call out, so the request goes, for this emit, to a URL it
        # does not serve (tests/support/faults.py: aws_error).
        error = THROTTLING if kind == "throttled" else _server_error(target.service)
        answered_urls[id(request)] = request.url
        request.url = UNSERVED_URL
        body, headers = _error_body(target.service, error)
        return AWSResponse(answered_urls[id(request)], error.status, headers, _Body(body))

    def after(request: Any, event_name: str = "", **_: Any) -> None:
        original = answered_urls.pop(id(request), None)
        if original is not None:
            request.url = original
            return
        if event_name != event or kind not in ("timed_out_after", "answer_lost", "killed_after"):
            return
        if not matches(request):
            return
        injection.fired += 1
        if urlsplit(request.url).hostname in LOOPBACK:
            # Not moto (which carried the call out in its own before-send handler): DynamoDB Local, over HTTP.
            # The call goes out here, so the service carries it out as moto did, and its answer is dropped.
            URLLib3Session(timeout=read_timeout).send(request)
        if kind == "timed_out_after":
            raise ReadTimeoutError(endpoint_url=request.url)
        if kind == "answer_lost":
            raise ConnectionClosedError(endpoint_url=request.url)
        raise SimulatedLambdaTimeout()

    read_timeout = float(client(target.service).meta.config.read_timeout or READ_TIMEOUT_SECONDS)
    events = client(target.service).meta.events
    events.register_first(event, before, unique_id=f"soak-fault-{event}")
    events.register_last("before-send", after, unique_id=f"soak-fault-after-{event}")
    try:
        yield injection
    finally:
        events.unregister(event, unique_id=f"soak-fault-{event}")
        events.unregister("before-send", unique_id=f"soak-fault-after-{event}")


def _server_error(service: str) -> AwsError:
    if service == "dynamodb":
        return DYNAMODB_INTERNAL_ERROR
    return AwsError(500, "InternalFailure" if service != "sqs" else "InternalError")
