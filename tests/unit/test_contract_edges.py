"""The contract at the edges production produces (R3, R4, R5, R9 and the API half of R8).

Answers past DynamoDB's 400 KB item limit, definitions that change between a request and its retry,
queues that refuse part of a request, payloads an automation cannot evaluate, names past DynamoDB's
key limits, and stores that hang instead of refusing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from freezegun import freeze_time

from local.container import reset_container_state
from notify.dal import spilled_parts
from notify.dal.clients import client as product_client
from notify.dal.definitions import put_automation, put_event_definition
from notify.logic.definitions import forget_cached_definitions
from notify.models.definitions import AutomationDefinition, EventDefinition
from tests.support.clients import AutomationApiClient, BulkApiClient, EventApiClient, StatusApiClient, welcome
from tests.support.faults import SimulatedLambdaTimeout, fail_call, queue_refuses
from tests.support.sender import SenderDriver
from tests.support.stack import FakeLambdaContext, Stack, sent_emails

ORDER = {"event": "OrderConfirmed", "data": {"name": "Rahul", "order_id": "A-1", "amount": "9"}}


def order(email: str = "rahul@example.com", sms: str = "+14155550100") -> dict[str, Any]:
    return {**ORDER, "to": {"email": email, "sms": sms}}


def long_recipients(count: int) -> list[dict[str, Any]]:
    """Recipients with long addresses on two channels: a 1000-item answer of about 500 KB."""
    batch = []
    for i in range(count):
        local = hashlib.sha256(f"local{i}".encode()).hexdigest()  # 64 characters, as long as RFC 5321 allows
        domain = ".".join(hashlib.sha256(f"d{i}{n}".encode()).hexdigest()[:40] for n in range(4))
        batch.append({"to": {"email": f"{local}@{domain}.example.com", "sms": f"+1415{i:07d}"}, "data": ORDER["data"]})
    return batch


def delete_definition(stack: Stack, definition_id: str) -> None:
    product_client("dynamodb").delete_item(
        TableName=stack.resources.tables["DefinitionsTable"],
        Key={"workspace": {"S": stack.workspaces[0].workspace}, "definition_id": {"S": definition_id}},
    )
    forget_cached_definitions()


# R3: answers of any size ----------------------------------------------------------------------


def test_R3_bulk_answer_larger_than_a_dynamodb_item_replays_byte_for_byte(
    bulk_client: BulkApiClient, stack: Stack
) -> None:
    body = {"event": "OrderConfirmed", "batch": long_recipients(1000)}
    first = bulk_client.post(body, key="big-bulk")
    assert first.status == 202
    assert len(first.body.encode()) > 450 * 1024  # beyond DynamoDB's 400 KB item limit
    assert all(item["email"]["status"] == item["sms"]["status"] == "ok" for item in first.json()["response"])

    # Right after the answer, with another payload: the stored answer, not a 409 and not a new execution.
    changed = bulk_client.post({"event": "OrderConfirmed", "batch": long_recipients(3)}, key="big-bulk")
    assert changed.status == 202
    assert changed.headers["idempotency-replayed"] == "true"
    assert changed.body == first.body

    reset_container_state()  # a new container: no local cache, the answer comes from DynamoDB
    again = bulk_client.post(body, key="big-bulk")
    assert again.body == first.body and again.headers["idempotency-replayed"] == "true"
    assert len(stack.queued_messages()) == 2000


def test_R3_an_answer_spilled_over_several_items_replays_byte_for_byte(
    bulk_client: BulkApiClient, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small limits make an ordinary answer take the path of one too large even compressed.
    monkeypatch.setattr(spilled_parts, "INLINE_RESPONSE_BYTES", 512)
    monkeypatch.setattr(spilled_parts, "PART_BYTES", 2048)
    body = {"event": "OrderConfirmed", "batch": long_recipients(40)}
    first = bulk_client.post(body, key="spilled")
    assert first.status == 202
    keys = [item["id"]["S"] for item in stack.idempotency_items()]
    assert len(keys) > 2 and sum("#part" in key for key in keys) == len(keys) - 1

    reset_container_state()
    replay = bulk_client.post({"event": "OrderConfirmed", "batch": long_recipients(1)}, key="spilled")
    assert replay.headers["idempotency-replayed"] == "true"
    assert replay.body == first.body


# R4: the replay comes first -------------------------------------------------------------------


def test_R4_replay_survives_a_channel_removed_from_the_event(client: EventApiClient, stack: Stack) -> None:
    first = client.post(order(), key="order-1")
    assert first.status == 202
    put_event_definition(
        stack.workspaces[0].workspace,
        EventDefinition.model_validate({"name": "OrderConfirmed", "channels": {"whatsapp": {"body": "x"}}}),
    )
    forget_cached_definitions()
    retry = client.post(order(), key="order-1")
    assert retry.status == 202 and retry.body == first.body
    assert retry.headers["idempotency-replayed"] == "true"


def test_R4_replay_survives_a_deleted_event_and_automation(
    client: EventApiClient, bulk_client: BulkApiClient, automation_client: AutomationApiClient, stack: Stack
) -> None:
    event = client.post(welcome(), key="deleted")
    bulk = bulk_client.post({"event": "Welcome_Email", "batch": [welcome("a@example.com")]}, key="deleted")
    automation = automation_client.post({"email": "a@example.com", "phone": "+14155550100"}, key="deleted")
    assert event.status == bulk.status == automation.status == 202
    delete_definition(stack, "event#Welcome_Email")
    delete_definition(stack, "automation#onboarding")
    for api, first, body in (
        (client, event, welcome()),
        (bulk_client, bulk, {"event": "Welcome_Email", "batch": [{"to": {"email": "a@example.com"}}]}),
        (automation_client, automation, {"email": "a@example.com"}),
    ):
        retry = api.post(body, key="deleted")
        assert (retry.status, retry.body, retry.headers.get("idempotency-replayed")) == (202, first.body, "true")


@pytest.mark.parametrize("body", ["{not json", '{"event": ""}', "[]"])
def test_R4_retry_with_an_invalid_body_replays(client: EventApiClient, stack: Stack, body: str) -> None:
    first = client.post(welcome(), key="then-broken")
    retry = client.post(raw_body=body, key="then-broken")
    assert (retry.status, retry.body, retry.headers.get("idempotency-replayed")) == (202, first.body, "true")


def test_R4_retry_resending_the_first_expiration_header_minutes_later_replays(
    client: EventApiClient, stack: Stack
) -> None:
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    header = {"x-idempotency-expiration": str(int((start + timedelta(hours=24)).timestamp() * 1000))}
    with freeze_time(start):
        first = client.post(welcome(), key="late-header", headers=header)
    assert first.status == 202
    with freeze_time(start + timedelta(minutes=30)):
        retry = client.post(welcome(), key="late-header", headers=header)
    assert (retry.status, retry.body, retry.headers.get("idempotency-replayed")) == (202, first.body, "true")


def test_R5_a_bad_expiration_header_with_a_new_key_is_400_and_stores_nothing(
    client: EventApiClient, stack: Stack
) -> None:
    response = client.post(welcome(), key="new", headers={"x-idempotency-expiration": "soon"})
    assert response.status == 400
    assert response.json()["errors"][0]["field"] == "x-idempotency-expiration"
    assert stack.idempotency_items() == [] and stack.queued_messages() == []


def test_R5_a_failure_inside_the_claim_releases_the_key(client: EventApiClient, stack: Stack) -> None:
    assert client.post({**welcome(), "event": "NoSuchEvent"}, key="released").status == 400
    assert stack.idempotency_items() == []
    assert client.post(welcome(), key="released").status == 202


# R8 (API half): truthful status when the queue refuses part of a request ------------------------


def test_R8_event_partly_queued_answers_per_channel_and_status_shows_not_queued(
    client: EventApiClient, stack: Stack, status: StatusApiClient
) -> None:
    with queue_refuses("+14155550100"):
        response = client.post(order(), key="partly")
    answer = response.json()["response"]
    assert (response.status, answer["email"]["status"], answer["sms"]["status"]) == (202, "ok", "error")
    assert [m["channel"] for m in stack.queued_messages()] == ["email"]
    states = {n["channel"]: n for n in status.get(response.json()["request_id"]).json()["notifications"]}
    assert states["email"]["state"] == "queued"
    assert states["sms"]["state"] == "failed" and "not queued" in states["sms"]["reason"]
    replay = client.post(order(), key="partly")
    assert replay.body == response.body


def test_R8_event_queued_nowhere_is_a_stored_500_and_no_notification_shows_queued(
    client: EventApiClient, stack: Stack, status: StatusApiClient
) -> None:
    with queue_refuses("OrderConfirmed"):
        response = client.post(order(), key="nowhere")
    assert response.status == 500
    request_id = response.json()["request_id"]
    notifications = status.get(request_id).json()["notifications"]
    assert {n["state"] for n in notifications} == {"failed"}
    assert client.post(order(), key="nowhere").body == response.body


def test_R8_automation_partly_queued_answers_per_step_and_channel(
    automation_client: AutomationApiClient, stack: Stack, status: StatusApiClient
) -> None:
    with queue_refuses("OrderConfirmed"):
        response = automation_client.post({"email": "a@example.com", "phone": "+14155550100", "name": "A"}, key="auto")
    assert response.status == 202
    steps = response.json()["steps"]
    assert steps[0]["response"]["email"]["status"] == "ok"
    assert {r["status"] for r in steps[1]["response"].values()} == {"error"}
    states = {n["state"] for n in status.get(response.json()["request_id"]).json()["notifications"]}
    assert states == {"queued", "failed"}


# Client mistakes are 400s, and payload values stay out of the logs -----------------------------


def test_R5_a_payload_the_automation_cannot_evaluate_is_400_naming_step_and_channel(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    put_automation(
        stack.workspaces[0].workspace,
        AutomationDefinition.model_validate(
            {"id": "joined", "steps": [{"event": "Welcome_Email", "to": {"email": "join(',', emails)"}}]}
        ),
    )
    client = AutomationApiClient(stack.workspaces[0], "joined")
    response = client.post({"emails": [98765432101, "x@example.com"]}, key="join")
    assert response.status == 400
    error = response.json()["errors"][0]
    assert (error["step"], error["field"]) == (1, "to.email")
    assert "98765432101" not in capsys.readouterr().out + response.body
    assert stack.idempotency_items() == []


@pytest.fixture
def dynamodb_key_limits(stack: Stack) -> Iterator[None]:
    """Reads as real DynamoDB answers them: a key attribute past its size limit is a ValidationException
    (moto checks only writes)."""
    events = product_client("dynamodb").meta.events

    def check(params: dict[str, Any], **_: Any) -> None:
        for value in params.get("Key", {}).values():
            if len(value.get("S", "").encode()) > 1024:
                raise ClientError(
                    {
                        "Error": {
                            "Code": "ValidationException",
                            "Message": "Aggregated size of all range keys has exceeded the size limit of 1024 bytes",
                        }
                    },
                    "GetItem",
                )

    events.register("before-parameter-build.dynamodb.GetItem", check, unique_id="key-limits")
    yield
    events.unregister("before-parameter-build.dynamodb.GetItem", unique_id="key-limits")


def test_R5_an_event_name_past_the_key_limit_in_bytes_is_400(
    client: EventApiClient, bulk_client: BulkApiClient, stack: Stack, dynamodb_key_limits: None
) -> None:
    name = "\U0001d11e" * 256  # 256 characters, 1024 bytes in UTF-8
    for api, body in (
        (client, {**welcome(), "event": name}),
        (bulk_client, {"event": name, "batch": [{"to": {"email": "a@example.com"}}]}),
    ):
        response = api.post(body, key="long-name")
        assert response.status == 400, response.body
        assert response.json()["errors"][0]["field"] == "event"


def test_R5_an_automation_id_past_the_key_limit_is_400(stack: Stack, dynamodb_key_limits: None) -> None:
    response = AutomationApiClient(stack.workspaces[0], "a" * 1100).post({"email": "a@example.com"}, key="long-id")
    assert response.status == 400
    assert response.json()["errors"][0]["field"] == "automation_id"


def test_R5_a_distinct_id_past_the_key_limit_is_400(client: EventApiClient, stack: Stack) -> None:
    response = client.post({**welcome(), "distinct_id": "\u00e9" * 512}, key="long-distinct")
    assert response.status == 400
    assert response.json()["errors"][0]["field"] == "distinct_id"


# R6 and R8: one lifetime of a key, and the next ------------------------------------------------


def test_R8_a_key_reused_after_it_expired_is_executed_and_sent_again(
    client: EventApiClient, stack: Stack, sender: SenderDriver
) -> None:
    start = datetime.now(UTC)
    with freeze_time(start):
        first = client.post(welcome(), key="reused")
        sender.drain()
    with freeze_time(start + timedelta(hours=25)):
        second = client.post(welcome(), key="reused")
        sender.drain()
    assert second.status == 202 and "idempotency-replayed" not in second.headers
    assert second.json()["request_id"] != first.json()["request_id"]
    assert len(sent_emails()) == 2


def test_R6_a_retry_after_a_crash_keeps_the_first_requests_expiry_and_ids(client: EventApiClient, stack: Stack) -> None:
    def crash_after_enqueue(**_: object) -> None:
        raise SimulatedLambdaTimeout()

    start = datetime.now(UTC)
    first_expiry = start + timedelta(hours=48)
    with freeze_time(start) as clock:
        with (
            fail_call("sqs", "SendMessageBatch", action=crash_after_enqueue, after=True),
            pytest.raises(SimulatedLambdaTimeout),
        ):
            client.post(
                welcome(),
                key="crash-expiry",
                headers={"x-idempotency-expiration": str(int(first_expiry.timestamp() * 1000))},
                context=FakeLambdaContext(remaining_ms=3_000),
            )
        clock.tick(timedelta(seconds=4))  # past the crashed invocation's timeout: its claim lapsed
        later = start + timedelta(hours=30)
        retry = client.post(
            welcome(), key="crash-expiry", headers={"x-idempotency-expiration": str(int(later.timestamp() * 1000))}
        )
    assert retry.status == 202
    assert [int(item["expiration"]["N"]) for item in stack.idempotency_items()] == [int(first_expiry.timestamp())]
    messages = stack.queued_messages()
    assert len(messages) == 2 and {m["msg_id"] for m in messages} == {retry.json()["response"]["email"]["msg_id"]}
    assert {m["dedupe_until"] for m in messages} == {int(first_expiry.timestamp())}


def test_R9_definitions_unreachable_inside_the_claim_is_503_and_releases_the_key(
    client: EventApiClient, stack: Stack
) -> None:
    forget_cached_definitions()
    with fail_call("dynamodb", "GetItem", table=stack.resources.tables["DefinitionsTable"]) as lookups:
        refused = client.post(welcome(), key="definitions-down")
    assert lookups and refused.status == 503 and refused.headers["retry-after"]
    assert stack.idempotency_items() == [] and stack.queued_messages() == []
    accepted = client.post(welcome(), key="definitions-down")
    assert accepted.status == 202 and "idempotency-replayed" not in accepted.headers
