"""boto3 clients, one per container, created on first use with explicit timeouts and retries.

Every call is bounded by the invocation's deadline (notify.deadline): each attempt's read timeout
is cut to the time left, and no attempt starts once it is gone (OutOfTime, a BotoCoreError like a
timeout). A hung store or queue therefore ends in the product's own answer (503 with Retry-After
before execution, R9), not in the function timing out behind API Gateway's 500.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from notify.caches import per_container
from notify.deadline import seconds_left

# BatchGetItem takes at most 100 keys a call; unprocessed keys are asked again this many times in all.
BATCH_GET_LIMIT = 100
BATCH_GET_ATTEMPTS = 5

READ_TIMEOUT_SECONDS = 5.0
# Short timeouts: the API must answer well inside API Gateway's 29 s, and a hung store is a 503 (R9).
_CONFIG = Config(
    connect_timeout=2,
    read_timeout=READ_TIMEOUT_SECONDS,
    retries={"max_attempts": 3, "mode": "standard"},
)
# Providers deliver to a person: botocore must never send a request again on its own, since after a read
# timeout, a lost answer or a 5xx the provider may already have sent it (R8). The sender decides what to
# retry (only failures known to happen before the provider got the request), through SQS.
PROVIDER_CONNECT_TIMEOUT_SECONDS = 2
PROVIDER_READ_TIMEOUT_SECONDS = 5
_PROVIDER_CONFIG = Config(
    connect_timeout=PROVIDER_CONNECT_TIMEOUT_SECONDS,
    read_timeout=PROVIDER_READ_TIMEOUT_SECONDS,
    retries={"total_max_attempts": 1, "mode": "standard"},
)
PROVIDER_SERVICES = frozenset({"sesv2", "sns"})
# The longest a provider call can take: one connection attempt and one read, no retry.
PROVIDER_CALL_SECONDS = PROVIDER_CONNECT_TIMEOUT_SECONDS + PROVIDER_READ_TIMEOUT_SECONDS
# An attempt with less time than this left would only time out.
MIN_ATTEMPT_SECONDS = 0.05
T = TypeVar("T")
R = TypeVar("R")


class OutOfTime(BotoCoreError):
    """The invocation's time budget for AWS calls is spent; the call was not (or no longer) attempted."""

    fmt = "No time left in this invocation's budget for an AWS call"


def _bound_attempt(request: Any, **_: Any) -> None:
    """botocore `before-send`: this attempt may read for at most the time left in the budget."""
    left = seconds_left()
    if left is None:
        return
    if left < MIN_ATTEMPT_SECONDS:
        raise OutOfTime()
    request.context["read_timeout"] = min(READ_TIMEOUT_SECONDS, left)


@per_container
def client(service: str) -> Any:
    """The container's client for `service` (endpoint from AWS_ENDPOINT_URL when set, as boto3 does)."""
    config = _PROVIDER_CONFIG if service in PROVIDER_SERVICES else _CONFIG
    created = boto3.session.Session().client(service, config=config)
    created.meta.events.register("before-send", _bound_attempt, unique_id="notify-time-budget")
    return created


def batch_get(table: str, keys: Sequence[dict[str, Any]], ddb: Any = None) -> list[dict[str, Any]]:
    """The items of `keys` that exist in `table`, read consistently: BatchGetItem, 100 keys a call, unprocessed
    keys retried with a doubling pause; RuntimeError when some are still unprocessed after the last attempt."""
    ddb = ddb or client("dynamodb")
    items: list[dict[str, Any]] = []
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        request: dict[str, Any] = {table: {"Keys": list(keys[start : start + BATCH_GET_LIMIT]), "ConsistentRead": True}}
        for attempt in range(BATCH_GET_ATTEMPTS):
            response = ddb.batch_get_item(RequestItems=request)
            items.extend(response.get("Responses", {}).get(table, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(0.05 * 2**attempt)
        else:
            raise RuntimeError(f"{len(request[table]['Keys'])} item(s) of {table} could not be read")
    return items


def map_in_parallel(function: Callable[[T], R], items: Iterable[T], max_workers: int) -> list[R]:
    """`map` on a thread pool whose threads keep the caller's context (its time budget among it)."""
    pending = list(items)
    if not pending:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(pending)))) as pool:
        futures = [pool.submit(contextvars.copy_context().run, function, item) for item in pending]
        return [future.result() for future in futures]
