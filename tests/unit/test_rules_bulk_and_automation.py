"""docs/contract.md section 3 for the Event Bulk and Automations APIs: R1-R9, each test run once per API."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from local.seed import DemoWorkspace
from tests.support.clients import ApiClient, AutomationApiClient, BulkApiClient, EventApiClient, receipts_in, welcome
from tests.support.faults import SimulatedLambdaTimeout, fail_call
from tests.support.stack import FakeLambdaContext, Stack


@dataclass
class Api:
    name: str
    client: ApiClient
    body: Callable[[str], Any]  # a valid body for a recipient address
    invalid: Any  # a body that fails validation
    unknown: tuple[Any, str | None]  # (body, route) naming an event or automation that does not exist

    def ids(self, response_body: dict[str, Any]) -> list[str]:
        """Every msg_id a response names."""
        return sorted(receipt["msg_id"] for receipt in receipts_in(response_body))


def bulk_body(email: str) -> dict[str, Any]:
    return {"event": "Welcome_Email", "batch": [{"to": {"email": email}, "data": {"name": "A"}}]}


def automation_payload(email: str) -> dict[str, Any]:
    return {"email": email, "name": "A", "order": {"id": "A-1", "amount": "1 EUR"}}


@pytest.fixture(params=["bulk", "automation"])
def api(request: pytest.FixtureRequest, stack: Stack) -> Api:
    workspace = stack.workspaces[0]
    if request.param == "bulk":
        return Api(
            "bulk",
            BulkApiClient(workspace),
            bulk_body,
            {"event": "Welcome_Email", "batch": [{"to": {"email": "nope"}}]},
            ({"event": "NoSuchEvent", "batch": [{"to": {"email": "a@example.com"}}]}, None),
        )
    return Api(
        "automation",
        AutomationApiClient(workspace),
        automation_payload,
        {"name": "no email here"},
        (automation_payload("a@example.com"), "automation/no-such-automation/trigger"),
    )


def other_workspace(api: Api, stack: Stack) -> ApiClient:
    clients: dict[str, Callable[[DemoWorkspace], ApiClient]] = {
        "bulk": BulkApiClient,
        "automation": AutomationApiClient,
    }
    return clients[api.name](stack.workspaces[1])


def test_R1_without_key_every_request_executes(api: Api, stack: Stack) -> None:
    first = api.client.post(api.body("a@example.com"))
    second = api.client.post(api.body("a@example.com"))
    assert first.status == second.status == 202
    assert first.json()["request_id"] != second.json()["request_id"]
    assert stack.idempotency_items() == []


def test_R1_blank_key_is_400_and_nothing_is_sent(api: Api, stack: Stack) -> None:
    response = api.client.post(api.body("a@example.com"), key="  ")
    assert response.status == 400
    assert response.json()["errors"] == [{"field": "Idempotency-Key", "message": "must be a non-empty string"}]
    assert stack.queued_messages() == []


def test_R1_quoted_key_is_the_same_key(api: Api, stack: Stack) -> None:
    first = api.client.post(api.body("a@example.com"), key='"q-1"')
    second = api.client.post(api.body("a@example.com"), key="q-1")
    assert second.body == first.body and second.headers["idempotency-replayed"] == "true"


def test_R2_same_key_in_two_workspaces_never_shares_a_result(api: Api, stack: Stack) -> None:
    mine = api.client.post(api.body("mine@example.com"), key="shared")
    theirs = other_workspace(api, stack).post(api.body("theirs@example.com"), key="shared")
    assert mine.status == theirs.status == 202
    assert "idempotency-replayed" not in theirs.headers
    assert mine.json()["request_id"] != theirs.json()["request_id"]


def test_R2_same_key_on_the_event_api_never_shares_a_result(api: Api, stack: Stack) -> None:
    event = EventApiClient(stack.workspaces[0]).post(welcome(), key="cross-api")
    other = api.client.post(api.body("a@example.com"), key="cross-api")
    assert event.status == other.status == 202
    assert "idempotency-replayed" not in other.headers
    assert other.json()["request_id"] != event.json()["request_id"]
    assert len(stack.idempotency_items()) == 2


def test_R3_a_5xx_after_execution_started_is_stored_and_replayed(api: Api, stack: Stack) -> None:
    with fail_call("sqs", "SendMessageBatch"):
        first = api.client.post(api.body("a@example.com"), key="down")
    assert first.status == 500
    assert first.json()["status"] == "error"
    replay = api.client.post(api.body("a@example.com"), key="down")
    assert (replay.status, replay.body) == (500, first.body)
    assert replay.headers["idempotency-replayed"] == "true"
    assert stack.queued_messages() == []


def test_R4_changed_payload_replays_first_response(api: Api, stack: Stack) -> None:
    first = api.client.post(api.body("first@example.com"), key="r4")
    queued = len(stack.queued_messages())
    replay = api.client.post(api.body("changed@example.com"), key="r4")
    assert replay.status == first.status == 202
    assert replay.body == first.body
    assert replay.headers["idempotency-replayed"] == "true"
    assert "idempotency-replayed" not in first.headers
    assert len(stack.queued_messages()) == queued
    assert "changed@example.com" not in json.dumps(stack.queued_messages())


def test_R5_validation_failure_is_not_stored_and_the_key_can_be_retried(api: Api, stack: Stack) -> None:
    rejected = api.client.post(api.invalid, key="r5")
    assert rejected.status == 400
    assert stack.idempotency_items() == [] and stack.queued_messages() == []
    accepted = api.client.post(api.body("a@example.com"), key="r5")
    assert accepted.status == 202 and "idempotency-replayed" not in accepted.headers


def test_R5_unknown_event_or_automation_is_400_and_not_stored(api: Api, stack: Stack) -> None:
    body, route = api.unknown
    rejected = api.client.post(body, key="r5-unknown", route=route)
    assert rejected.status == 400
    assert "is invalid or does not exist" in rejected.json()["_message"]
    assert stack.idempotency_items() == []
    assert api.client.post(api.body("a@example.com"), key="r5-unknown").status == 202


def test_R5_malformed_json_is_400_and_not_stored(api: Api, stack: Stack) -> None:
    assert api.client.post(raw_body="{oops", key="r5-json").status == 400
    assert stack.idempotency_items() == []


def test_R5_concurrent_holder_gets_409_with_retry_after(api: Api, stack: Stack) -> None:
    def timeout(**_: object) -> None:
        raise SimulatedLambdaTimeout()

    with fail_call("sqs", "SendMessageBatch", action=timeout, after=True), pytest.raises(SimulatedLambdaTimeout):
        api.client.post(api.body("a@example.com"), key="held", context=FakeLambdaContext(5_000))
    held = api.client.post(api.body("a@example.com"), key="held")
    assert held.status == 409 and held.headers["retry-after"] == "1"


def test_R6_expiration_header_sets_the_expiry_and_bad_values_are_400(api: Api, stack: Stack) -> None:
    too_soon = str(int((datetime.now(UTC) + timedelta(hours=2)).timestamp() * 1000))
    assert (
        api.client.post(api.body("a@example.com"), key="r6", headers={"x-idempotency-expiration": too_soon}).status
        == 400
    )
    assert stack.idempotency_items() == []
    in_two_days = datetime.now(UTC) + timedelta(days=2)
    header = {"x-idempotency-expiration": in_two_days.isoformat()}
    assert api.client.post(api.body("a@example.com"), key="r6", headers=header).status == 202
    (item,) = stack.idempotency_items()
    assert abs(int(item["expiration"]["N"]) - int(in_two_days.timestamp())) <= 1


def test_R6_expired_record_executes_again(api: Api, stack: Stack) -> None:
    with freeze_time(datetime.now(UTC)) as clock:
        api.client.post(api.body("a@example.com"), key="r6-expire")
        clock.tick(timedelta(hours=24, seconds=2))
        again = api.client.post(api.body("a@example.com"), key="r6-expire")
    assert again.status == 202 and "idempotency-replayed" not in again.headers


def test_R7_test_version_ignores_the_key(api: Api, stack: Stack) -> None:
    first = api.client.post(api.body("a@example.com"), key="r7", version="test")
    second = api.client.post(api.body("a@example.com"), key="r7", version="test")
    assert first.status == second.status == 202
    assert "idempotency-replayed" not in second.headers
    assert first.json()["request_id"] != second.json()["request_id"]
    assert stack.idempotency_items() == []


def test_R8_retry_after_a_crash_reuses_every_msg_id(api: Api, stack: Stack) -> None:
    def crash(**_: object) -> None:
        raise SimulatedLambdaTimeout()

    with freeze_time(datetime.now(UTC)) as clock:
        with fail_call("sqs", "SendMessageBatch", action=crash, after=True), pytest.raises(SimulatedLambdaTimeout):
            api.client.post(api.body("a@example.com"), key="r8", context=FakeLambdaContext(3_000))
        clock.tick(timedelta(seconds=4))
        retry = api.client.post(api.body("a@example.com"), key="r8")
    assert retry.status == 202
    retried_ids = api.ids(retry.json())
    queued_ids = sorted(message["msg_id"] for message in stack.queued_messages())
    assert queued_ids == sorted(retried_ids * 2)  # the crashed run queued the very same ids


def test_R9_unreachable_idempotency_store_is_503_and_nothing_is_sent(api: Api, stack: Stack) -> None:
    with fail_call("dynamodb", "PutItem", table=stack.resources.tables["IdempotencyTable"]) as calls:
        response = api.client.post(api.body("a@example.com"), key="r9")
    assert calls
    assert response.status == 503 and response.headers["retry-after"] == "2"
    assert stack.queued_messages() == [] and stack.idempotency_items() == []
