"""docs/contract.md section 3, rule by rule, for the Event API (R1-R7, R9, and the API half of R8)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from freezegun import freeze_time

from notify.logic.idempotency import RequestScope, read_idempotency_options, run_idempotently
from notify.logic.responses import failure, stored_response
from tests.support.clients import EventApiClient, welcome
from tests.support.faults import SimulatedLambdaTimeout, fail_call
from tests.support.stack import FakeLambdaContext, Stack

DAY = 24 * 60 * 60


def expiry_header(delta: timedelta, *, iso: bool = False) -> dict[str, str]:
    when = datetime.now(UTC) + delta
    value = when.isoformat() if iso else str(int(when.timestamp() * 1000))
    return {"x-idempotency-expiration": value}


def stored_expirations(stack: Stack) -> list[int]:
    return [int(item["expiration"]["N"]) for item in stack.idempotency_items()]


# R1 ------------------------------------------------------------------------------------------


def test_R1_without_key_every_request_executes(client: EventApiClient, stack: Stack) -> None:
    first = client.post(welcome())
    second = client.post(welcome())
    assert first.status == second.status == 202
    assert first.json()["request_id"] != second.json()["request_id"]
    assert "idempotency-replayed" not in second.headers
    assert len(stack.queued_messages()) == 2
    assert stack.idempotency_items() == []


def test_R1_header_name_is_case_insensitive() -> None:
    for name in ("Idempotency-Key", "IDEMPOTENCY-KEY", "idempotency-key"):
        options = read_idempotency_options({name: "abc"})
        assert options is not None and options.key == "abc"


def test_R1_mixed_case_header_from_a_direct_invoke_replays(client: EventApiClient, stack: Stack) -> None:
    first = client.post(welcome(), headers={"IdemPotency-KEY": "mixed"})
    second = client.post(welcome(), key="mixed")
    assert second.headers["idempotency-replayed"] == "true"
    assert second.body == first.body


@pytest.mark.parametrize("blank", ["", "   ", '""', '"  "'])
def test_R1_empty_or_blank_key_is_400_and_nothing_is_sent(client: EventApiClient, stack: Stack, blank: str) -> None:
    response = client.post(welcome(), key=blank)
    assert response.status == 400
    assert response.json() == {
        "_message": "The Idempotency-Key header must not be empty",
        "status": "error",
        "errors": [{"field": "Idempotency-Key", "message": "must be a non-empty string"}],
    }
    assert stack.queued_messages() == []
    assert stack.idempotency_items() == []


def test_R1_quoted_key_is_the_same_key(client: EventApiClient, stack: Stack) -> None:
    first = client.post(welcome(), key='"order-42"')
    second = client.post(welcome(), key="order-42")
    assert second.headers.get("idempotency-replayed") == "true"
    assert second.body == first.body
    assert len(stack.queued_messages()) == 1


def test_R1_key_is_trimmed(client: EventApiClient, stack: Stack) -> None:
    first = client.post(welcome(), key="  spaced  ")
    second = client.post(welcome(), key="spaced")
    assert second.body == first.body and second.headers.get("idempotency-replayed") == "true"


def test_R1_keys_of_any_length_are_stored_hashed(client: EventApiClient, stack: Stack) -> None:
    long_key = "k" * 20_000
    first = client.post(welcome(), key=long_key)
    assert first.status == 202
    (item,) = stack.idempotency_items()
    record_id = item["id"]["S"]
    assert long_key not in json.dumps(item)
    prefix, digest = record_id.split("#")
    assert prefix == "event" and len(digest) == 64  # SHA-256, hex
    assert client.post(welcome(), key=long_key).body == first.body


# R2 ------------------------------------------------------------------------------------------


def test_R2_same_key_in_two_workspaces_never_shares_a_result(
    client: EventApiClient, other_client: EventApiClient, stack: Stack
) -> None:
    mine = client.post(welcome(), key="shared-key")
    theirs = other_client.post(welcome(email="other@example.com"), key="shared-key")
    assert mine.status == theirs.status == 202
    assert "idempotency-replayed" not in theirs.headers
    assert mine.json()["request_id"] != theirs.json()["request_id"]
    destinations = sorted(message["destination"] for message in stack.queued_messages())
    assert destinations == ["other@example.com", "rahul@example.com"]


def test_R2_same_key_on_two_apis_never_shares_a_result(stack: Stack) -> None:
    """The Bulk and Automations APIs claim through the same contract with their own API name."""
    options = read_idempotency_options({"idempotency-key": "same"})
    executions: list[str] = []

    def execute(api: str) -> dict:
        executions.append(api)
        # Any body the API would answer with; this one names the API that executed.
        return stored_response(202, failure(f"executed by {api}"))

    event_scope = RequestScope(workspace="WSLOCAL0001", api="event", version="live", options=options)
    bulk_scope = RequestScope(workspace="WSLOCAL0001", api="bulk", version="live", options=options)
    context = FakeLambdaContext()
    answered = {}
    for api, scope in (("event", event_scope), ("bulk", bulk_scope)):
        answered[api] = json.loads(run_idempotently(scope, partial(execute, api), context)["body"])["_message"]
    assert answered == {"event": "executed by event", "bulk": "executed by bulk"}
    assert executions == ["event", "bulk"]
    assert event_scope.request_id() != bulk_scope.request_id()


# R3 ------------------------------------------------------------------------------------------


def test_R3_a_5xx_after_execution_started_is_stored_and_replayed(client: EventApiClient, stack: Stack) -> None:
    with fail_call("sqs", "SendMessageBatch"):
        first = client.post(welcome(), key="flaky-queue")
    assert first.status == 500
    body = first.json()
    assert body["status"] == "error" and body["_message"] == "The notification could not be queued"

    replay = client.post(welcome(), key="flaky-queue")  # the queue works again; the answer does not change
    assert replay.status == 500
    assert replay.body == first.body
    assert replay.headers["content-type"] == "application/json"
    assert replay.headers["idempotency-replayed"] == "true"
    assert stack.queued_messages() == []


def test_R3_an_unexpected_error_during_execution_is_stored_as_500(client: EventApiClient, stack: Stack) -> None:
    def explode(**_: object) -> None:
        raise RuntimeError("bug")

    with fail_call("sqs", "SendMessageBatch", action=explode):
        first = client.post(welcome(), key="buggy")
    assert first.status == 500
    assert first.json() == {"_message": "Internal server error", "status": "error"}
    replay = client.post(welcome(), key="buggy")
    assert (replay.status, replay.body) == (500, first.body)
    assert replay.headers["idempotency-replayed"] == "true"


def test_R3_success_stores_status_body_and_content_type(client: EventApiClient, stack: Stack) -> None:
    first = client.post(welcome(), key="stored")
    (item,) = stack.idempotency_items()
    assert item["status"]["S"] == "COMPLETED"
    stored = json.loads(item["data"]["S"])
    assert stored == {"statusCode": 202, "headers": {"Content-Type": "application/json"}, "body": first.body}


# R4 ------------------------------------------------------------------------------------------


def test_R4_changed_payload_replays_first_response(client: EventApiClient, stack: Stack) -> None:
    first = client.post(welcome(), key="order-1")
    assert first.status == 202
    assert "idempotency-replayed" not in first.headers

    changed = {"event": "OrderConfirmed", "to": {"email": "x@example.com", "sms": "+14155550100"}, "data": {}}
    replay = client.post(changed, key="order-1")
    assert replay.status == 202
    assert replay.body == first.body
    assert replay.headers["idempotency-replayed"] == "true"
    assert replay.headers["content-type"] == "application/json"
    assert len(stack.queued_messages()) == 1


def test_R4_replay_sends_nothing_even_from_a_new_container(client: EventApiClient, stack: Stack) -> None:
    from local.container import reset_container_state

    first = client.post(welcome(), key="cold")
    reset_container_state()  # no local cache: the replay must come from DynamoDB
    replay = client.post(welcome(), key="cold")
    assert replay.body == first.body and replay.headers["idempotency-replayed"] == "true"
    assert len(stack.queued_messages()) == 1


# R5 ------------------------------------------------------------------------------------------


def test_R5_auth_failure_is_not_stored_and_the_key_can_be_retried(client: EventApiClient, stack: Stack) -> None:
    denied = client.post(welcome(), key="retry-me", api_key="wrong-key")
    assert denied.status == 401
    assert stack.idempotency_items() == []
    accepted = client.post(welcome(), key="retry-me")
    assert accepted.status == 202 and "idempotency-replayed" not in accepted.headers


@pytest.mark.parametrize(
    ("raw_body", "payload"),
    [
        ("{not json", None),
        (None, {"event": "Welcome_Email", "to": {"email": "not-an-email"}}),
        (None, {"event": "NoSuchEvent", "to": {"email": "rahul@example.com"}}),
    ],
    ids=["malformed-json", "validation", "unknown-event"],
)
def test_R5_rejected_request_is_not_stored_and_the_key_can_be_retried(
    client: EventApiClient, stack: Stack, raw_body: str | None, payload: dict | None
) -> None:
    rejected = client.post(payload, raw_body=raw_body, key="fix-and-retry")
    assert rejected.status == 400
    assert stack.idempotency_items() == []
    assert stack.queued_messages() == []
    accepted = client.post(welcome(), key="fix-and-retry")
    assert accepted.status == 202 and "idempotency-replayed" not in accepted.headers


def test_R5_concurrent_request_holding_the_key_gets_409_and_nothing_is_stored(
    client: EventApiClient, stack: Stack
) -> None:
    def timeout_after_enqueue(**_: object) -> None:
        raise SimulatedLambdaTimeout()

    with (
        fail_call("sqs", "SendMessageBatch", action=timeout_after_enqueue, after=True),
        pytest.raises(SimulatedLambdaTimeout),
    ):
        client.post(welcome(), key="held", context=FakeLambdaContext(remaining_ms=5_000))

    held = client.post(welcome(), key="held")
    assert held.status == 409
    assert held.headers["retry-after"] == "1"
    assert held.json()["status"] == "error"
    (item,) = stack.idempotency_items()
    assert item["status"]["S"] == "INPROGRESS"  # the 409 wrote nothing


def test_R5_rate_limiting_happens_in_api_gateway_before_any_function() -> None:
    """429s come from the stage throttling, so they never reach the idempotent section."""
    from local.template import load_template

    settings = load_template()["Resources"]["HttpApi"]["Properties"]["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] == {"Ref": "ThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ThrottlingBurstLimit"}


# R6 ------------------------------------------------------------------------------------------


def test_R6_records_expire_after_24_hours_by_default(client: EventApiClient, stack: Stack) -> None:
    before = int(time.time())
    client.post(welcome(), key="default-expiry")
    (expiration,) = stored_expirations(stack)
    assert before + DAY <= expiration <= int(time.time()) + DAY + 1


@pytest.mark.parametrize("iso", [False, True], ids=["epoch-ms", "iso-8601"])
def test_R6_expiration_header_sets_the_expiry(client: EventApiClient, stack: Stack, iso: bool) -> None:
    header = expiry_header(timedelta(days=3), iso=iso)
    response = client.post(welcome(), key="three-days", headers=header)
    assert response.status == 202
    expected = int((datetime.now(UTC) + timedelta(days=3)).timestamp())
    (expiration,) = stored_expirations(stack)
    assert abs(expiration - expected) <= 2


@pytest.mark.parametrize(
    "value",
    [
        str(int((time.time() + 3600) * 1000)),  # one hour ahead
        str(int((time.time() + 400 * DAY) * 1000)),  # more than a year ahead
        str(int((time.time() - DAY) * 1000)),  # in the past
        "tomorrow",
        "2026-13-45T00:00:00Z",
        "99999999999999999999",  # past datetime's range: was a 500
        "\u00b2",  # a digit to str.isdigit, not to int(): was a 500
    ],
    ids=["too-soon", "too-late", "past", "words", "bad-iso", "beyond-datetime", "superscript-digit"],
)
def test_R6_bad_expiration_is_400_and_nothing_is_stored(client: EventApiClient, stack: Stack, value: str) -> None:
    response = client.post(welcome(), key="bad-expiry", headers={"X-Idempotency-Expiration": value})
    assert response.status == 400
    body = response.json()
    assert body["status"] == "error"
    assert body["errors"][0]["field"] == "x-idempotency-expiration"
    assert stack.idempotency_items() == [] and stack.queued_messages() == []


def test_R6_first_requests_expiry_is_final(client: EventApiClient, stack: Stack) -> None:
    client.post(welcome(), key="final", headers=expiry_header(timedelta(days=2)))
    (first_expiration,) = stored_expirations(stack)
    replay = client.post(welcome(), key="final", headers=expiry_header(timedelta(days=30)))
    assert replay.headers["idempotency-replayed"] == "true"
    assert stored_expirations(stack) == [first_expiration]


def test_R6_expired_record_is_reusable_even_before_ttl_deletes_it(client: EventApiClient, stack: Stack) -> None:
    with freeze_time(datetime.now(UTC)) as clock:
        first = client.post(welcome(), key="day-old")
        clock.tick(timedelta(hours=23, minutes=59))
        assert client.post(welcome(), key="day-old").headers.get("idempotency-replayed") == "true"
        clock.tick(timedelta(minutes=2))
        assert len(stack.idempotency_items()) == 1  # moto, like a lagging TTL, has not deleted it
        again = client.post(welcome(), key="day-old")
    assert again.status == 202
    assert "idempotency-replayed" not in again.headers
    assert again.json()["received_time"] != first.json()["received_time"]
    assert len(stack.queued_messages()) == 2


def test_R6_custom_expiry_holds_past_24_hours(client: EventApiClient, stack: Stack) -> None:
    with freeze_time(datetime.now(UTC)) as clock:
        first = client.post(welcome(), key="week", headers=expiry_header(timedelta(days=7)))
        clock.tick(timedelta(days=6))
        replay = client.post(welcome(), key="week")
    assert replay.body == first.body and replay.headers["idempotency-replayed"] == "true"


# R7 ------------------------------------------------------------------------------------------


def test_R7_test_version_ignores_the_key(client: EventApiClient, stack: Stack) -> None:
    first = client.post(welcome(), key="sandboxed", version="test")
    second = client.post(welcome(), key="sandboxed", version="test")
    assert first.status == second.status == 202
    assert "idempotency-replayed" not in second.headers
    assert first.json()["request_id"] != second.json()["request_id"]
    assert stack.idempotency_items() == []
    assert [message["version"] for message in stack.queued_messages()] == ["test", "test"]


def test_R7_live_and_test_do_not_share_a_key(client: EventApiClient, stack: Stack) -> None:
    client.post(welcome(), key="both", version="test")
    live = client.post(welcome(), key="both")
    assert live.status == 202 and "idempotency-replayed" not in live.headers


# R8 (API half: ids derive from the scoped key) -------------------------------------------------


def test_R8_retry_after_a_crash_reuses_request_and_msg_ids(client: EventApiClient, stack: Stack) -> None:
    def crash_after_enqueue(**_: object) -> None:
        raise SimulatedLambdaTimeout()

    with freeze_time(datetime.now(UTC)) as clock:
        with (
            fail_call("sqs", "SendMessageBatch", action=crash_after_enqueue, after=True),
            pytest.raises(SimulatedLambdaTimeout),
        ):
            client.post(welcome(), key="crashy", context=FakeLambdaContext(remaining_ms=3_000))
        assert client.post(welcome(), key="crashy").status == 409  # the crashed claim is still held
        clock.tick(timedelta(seconds=4))  # past the crashed invocation's timeout
        retry = client.post(welcome(), key="crashy")
    assert retry.status == 202
    messages = stack.queued_messages()
    assert len(messages) == 2  # enqueued twice: the sender delivers each msg_id once
    assert {m["msg_id"] for m in messages} == {retry.json()["response"]["email"]["msg_id"]}
    assert {m["request_id"] for m in messages} == {retry.json()["request_id"]}


def test_R8_ids_are_deterministic_per_scoped_key_and_random_without_key() -> None:
    options = read_idempotency_options({"idempotency-key": "k"})
    scope = RequestScope(workspace="WSLOCAL0001", api="event", version="live", options=options)
    assert scope.request_id() == scope.request_id()
    assert uuid.UUID(scope.request_id())
    keyless = RequestScope(workspace="WSLOCAL0001", api="event", version="live", options=None)
    assert keyless.request_id() != keyless.request_id()


def test_R8_completion_write_failure_still_answers_and_a_retry_reuses_ids(client: EventApiClient, stack: Stack) -> None:
    idempotency_table = stack.resources.tables["IdempotencyTable"]
    with freeze_time(datetime.now(UTC)) as clock:
        with fail_call("dynamodb", "UpdateItem", table=idempotency_table) as completions:
            first = client.post(welcome(), key="no-complete", context=FakeLambdaContext(remaining_ms=2_000))
        assert completions, "the completion write was attempted and failed"
        assert first.status == 202  # executed: the client gets its answer
        assert client.post(welcome(), key="no-complete").status == 409  # the claim is still held
        clock.tick(timedelta(seconds=3))
        retry = client.post(welcome(), key="no-complete")
    assert retry.json()["request_id"] == first.json()["request_id"]
    assert retry.json()["response"] == first.json()["response"]


def test_R8_a_retry_with_another_body_after_an_unstored_202_is_409_and_executes_nothing(
    client: EventApiClient, stack: Stack
) -> None:
    """The first request was answered 202 but its completion failed, so that answer is not stored. A request
    reusing the key with another body once the claim lapsed must not execute that body under the same ids: the
    client would hold two different 202s for one key, and one msg_id two destinations (found by `make soak`,
    seed 7 scenario 1174). It is a 409 that stores nothing; the first body's retry still completes the key."""
    idempotency_table = stack.resources.tables["IdempotencyTable"]
    with freeze_time(datetime.now(UTC)) as clock:
        with fail_call("dynamodb", "UpdateItem", table=idempotency_table):
            first = client.post(welcome(), key="unstored", context=FakeLambdaContext(remaining_ms=2_000))
        assert first.status == 202
        queued = stack.queued_messages()
        clock.tick(timedelta(seconds=3))
        changed = client.post(welcome(email="someone.else@example.com"), key="unstored")
        assert changed.status == 409
        assert stack.queued_messages() == queued  # nothing of the other body was queued
        retry = client.post(welcome(), key="unstored")
    assert (retry.status, retry.json()) == (202, first.json())
    assert client.post(welcome(email="someone.else@example.com"), key="unstored").json() == first.json()


# R9 ------------------------------------------------------------------------------------------


def test_R9_unreachable_idempotency_store_is_503_and_nothing_is_sent_or_stored(
    client: EventApiClient, stack: Stack
) -> None:
    idempotency_table = stack.resources.tables["IdempotencyTable"]
    with fail_call("dynamodb", "PutItem", table=idempotency_table) as calls:
        response = client.post(welcome(), key="store-down")
    assert calls, "the claim was attempted"
    assert response.status == 503
    assert response.headers["retry-after"] == "2"
    assert response.json() == {"_message": "Service temporarily unavailable; retry later", "status": "error"}
    assert stack.queued_messages() == []
    assert stack.idempotency_items() == []
    assert client.post(welcome(), key="store-down").status == 202  # retryable once the store is back


def test_R9_unreachable_dynamodb_during_authentication_is_503_not_401(client: EventApiClient, stack: Stack) -> None:
    with fail_call("dynamodb", "GetItem"):
        response = client.post(welcome(), key="all-down")
    assert response.status == 503
    assert stack.queued_messages() == []
