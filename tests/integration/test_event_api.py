"""The Event API's rules (docs/contract.md section 3) over real HTTP against `python -m local`."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.local_stack import (
    API_KEY_1,
    API_KEY_2,
    INVALID_API_DETAILS,
    QUEUE,
    WORKSPACE_1,
    WORKSPACE_2,
    HttpResult,
    LocalStackProcess,
    assert_executed,
    assert_replayed,
)

pytestmark = pytest.mark.integration


def welcome(email: str = "rahul@example.com") -> dict[str, Any]:
    return {"event": "Welcome_Email", "to": {"email": email}, "data": {"name": "Rahul"}}


def post_event(
    stack: LocalStackProcess,
    body: Any = None,
    *,
    key: str | None = None,
    workspace: str = WORKSPACE_1,
    api_key: str | None = API_KEY_1,
    version: str = "live",
    headers: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> HttpResult:
    sent = {"Content-Type": "application/json"}
    if api_key is not None:
        sent["Authorization"] = f"Bearer {api_key}"
    if key is not None:
        sent["Idempotency-Key"] = key
    sent.update(headers or {})
    payload = raw_body if raw_body is not None else json.dumps(welcome() if body is None else body)
    return stack.request("POST", f"/v1/{workspace}/{version}/event", payload, sent)


def new_key() -> str:
    return f"it-{uuid.uuid4()}"


@pytest.fixture
def stack(local_stack: LocalStackProcess) -> Iterator[LocalStackProcess]:
    """The shared stack with an empty notification queue and no faults armed, before and after each test."""
    local_stack.disarm_faults()
    local_stack.drain_queue(QUEUE)
    yield local_stack
    local_stack.disarm_faults()


def idempotency_records(stack: LocalStackProcess) -> list[dict[str, Any]]:
    return stack.client("dynamodb").scan(TableName="IdempotencyTable", ConsistentRead=True)["Items"]


def record_of(stack: LocalStackProcess, request_id: str) -> dict[str, Any]:
    """The stored idempotency record whose response carries `request_id`."""
    matches = [item for item in idempotency_records(stack) if request_id in item.get("data", {}).get("S", "")]
    assert len(matches) == 1
    return matches[0]


# R1 ------------------------------------------------------------------------------------------


def test_R1_header_name_is_case_insensitive(stack: LocalStackProcess) -> None:
    key = new_key()
    first = post_event(stack, key=None, headers={"IDEMPOTENCY-KEY": key})
    second = post_event(stack, key=None, headers={"idempotency-key": key})

    assert_executed(first)
    assert_replayed(second, first)
    assert len(stack.drain_queue(QUEUE)) == 1


def test_R1_blank_key_is_400(stack: LocalStackProcess) -> None:
    result = post_event(stack, key="   ")

    assert result.status == 400
    assert result.json()["status"] == "error"
    assert stack.drain_queue(QUEUE) == []


def test_R1_quoted_key_is_the_same_key(stack: LocalStackProcess) -> None:
    key = new_key()
    first = post_event(stack, key=key)
    quoted = post_event(stack, key=f'"{key}"')

    assert_executed(first)
    assert_replayed(quoted, first)


def assert_each_executed(stack: LocalStackProcess, first: HttpResult, second: HttpResult) -> None:
    """Both executed: two request ids, and a notification queued for each."""
    assert_executed(first)
    assert_executed(second)
    assert first.json()["request_id"] != second.json()["request_id"]
    assert len(stack.drain_queue(QUEUE)) == 2


def test_R1_without_key_every_request_executes(stack: LocalStackProcess) -> None:
    first, second = post_event(stack), post_event(stack)

    assert_each_executed(stack, first, second)


# R2 ------------------------------------------------------------------------------------------


def test_R2_same_key_in_two_workspaces_is_independent(stack: LocalStackProcess) -> None:
    key = new_key()
    first = post_event(stack, key=key)
    other = post_event(stack, key=key, workspace=WORKSPACE_2, api_key=API_KEY_2)

    assert_executed(first)
    assert_executed(other)
    assert first.json()["request_id"] != other.json()["request_id"]
    assert {message["workspace"] for message in stack.drain_queue(QUEUE)} == {WORKSPACE_1, WORKSPACE_2}


# R3 ------------------------------------------------------------------------------------------


def test_R3_a_5xx_is_stored_and_replayed(stack: LocalStackProcess) -> None:
    key = new_key()
    stack.arm_fault(service="sqs", operation="SendMessageBatch", error="unreachable")
    first = post_event(stack, key=key)
    stack.disarm_faults()
    retry = post_event(stack, key=key)

    assert first.status == 500
    assert first.json()["status"] == "error"
    assert_replayed(retry, first)
    assert stack.drain_queue(QUEUE) == []


# R4 ------------------------------------------------------------------------------------------


def test_R4_changed_payload_replays_first_response_and_sends_nothing(stack: LocalStackProcess) -> None:
    key = new_key()
    first = post_event(stack, welcome("first@example.com"), key=key)
    assert [m["destination"] for m in stack.drain_queue(QUEUE)] == ["first@example.com"]

    changed = post_event(stack, welcome("second@example.com"), key=key)

    assert_executed(first)
    assert_replayed(changed, first)
    assert changed.headers["content-type"] == "application/json"
    assert stack.drain_queue(QUEUE) == []


# R5 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "expected_status"),
    [
        ({"api_key": "not-a-key"}, 401),
        ({"raw_body": "{not json"}, 400),
        ({"body": {"event": "Welcome_Email", "to": {}}}, 400),
        ({"body": {"event": "No_Such_Event", "to": {"email": "rahul@example.com"}}}, 400),
    ],
    ids=["unauthenticated", "malformed-json", "invalid-body", "unknown-event"],
)
def test_R5_failure_before_execution_is_not_stored(
    stack: LocalStackProcess, failure: dict[str, Any], expected_status: int
) -> None:
    key = new_key()
    failed = post_event(stack, key=key, **failure)
    retry = post_event(stack, key=key)

    assert failed.status == expected_status
    assert_executed(retry)
    assert len(stack.drain_queue(QUEUE)) == 1


# R6 ------------------------------------------------------------------------------------------


def epoch_ms(delta: timedelta) -> str:
    return str(int((datetime.now(UTC) + delta).timestamp() * 1000))


def test_R6_expiration_less_than_24_hours_ahead_is_400(stack: LocalStackProcess) -> None:
    result = post_event(stack, key=new_key(), headers={"x-idempotency-expiration": epoch_ms(timedelta(hours=1))})

    assert result.status == 400
    assert stack.drain_queue(QUEUE) == []


def test_R6_expiration_of_the_first_request_is_final(stack: LocalStackProcess) -> None:
    key = new_key()
    first_expiry = epoch_ms(timedelta(hours=48))
    first = post_event(stack, key=key, headers={"x-idempotency-expiration": first_expiry})
    later = post_event(stack, key=key, headers={"x-idempotency-expiration": epoch_ms(timedelta(days=30))})

    assert_executed(first)
    assert_replayed(later, first)
    record = record_of(stack, first.json()["request_id"])
    assert int(record["expiration"]["N"]) == int(first_expiry) // 1000


def test_R6_default_expiry_is_24_hours(stack: LocalStackProcess) -> None:
    first = post_event(stack, key=new_key())

    expiration = int(record_of(stack, first.json()["request_id"])["expiration"]["N"])
    expected = datetime.now(UTC) + timedelta(hours=24)
    assert abs(expiration - expected.timestamp()) < 120


# R7 ------------------------------------------------------------------------------------------


def test_R7_test_version_executes_every_time(stack: LocalStackProcess) -> None:
    key = new_key()
    first = post_event(stack, key=key, version="test")
    second = post_event(stack, key=key, version="test")

    assert_each_executed(stack, first, second)


# R9 ------------------------------------------------------------------------------------------


def test_R9_unreachable_idempotency_store_is_503_and_nothing_sent_or_stored(stack: LocalStackProcess) -> None:
    key = new_key()
    records_before = len(idempotency_records(stack))
    stack.arm_fault(service="dynamodb", operation="PutItem", table="IdempotencyTable", error="unreachable")

    unavailable = post_event(stack, key=key)

    assert unavailable.status == 503
    assert unavailable.json()["status"] == "error"
    assert stack.drain_queue(QUEUE) == []
    assert len(idempotency_records(stack)) == records_before
    stack.disarm_faults()
    assert_executed(post_event(stack, key=key))


# Authentication (docs/contract.md section 2) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_key", "authorization"),
    [
        (None, None),
        (None, f"Token {API_KEY_1}"),
        (None, "Bearer "),
        ("local-key-unknown", None),
        (API_KEY_2, None),
    ],
    ids=["missing", "wrong-scheme", "empty-bearer", "unknown-key", "other-workspace-key"],
)
def test_auth_failures_are_401_invalid_api_details(
    stack: LocalStackProcess, api_key: str | None, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    result = post_event(stack, key=new_key(), api_key=api_key, headers=headers)

    assert (result.status, result.json()) == (401, INVALID_API_DETAILS)
    assert stack.drain_queue(QUEUE) == []


# Concurrency (R4, R5 under load) -------------------------------------------------------------


def test_R4_R5_twenty_parallel_clients_on_one_key_execute_once(stack: LocalStackProcess) -> None:
    key = new_key()
    start = threading.Barrier(20)
    results: list[HttpResult] = []
    lock = threading.Lock()

    def client() -> None:
        start.wait(timeout=30)
        result = post_event(stack, key=key)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=client) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)

    assert len(results) == 20
    assert {result.status for result in results} <= {202, 409}
    assert len({result.body for result in results if result.status == 202}) == 1
    assert all("retry-after" in result.headers for result in results if result.status == 409)
    assert len(stack.drain_queue(QUEUE)) == 1
