"""Sending by `distinct_id` (docs/contract.md section 6): the profile fills each channel `to` does not give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from freezegun import freeze_time

from notify.dal.clients import client as aws_client
from notify.dal.definitions import put_automation
from notify.dal.profiles import create_profile, get_profile, replace_profile
from notify.logic.recipients import inactive_reason
from notify.models.definitions import AutomationDefinition
from notify.models.profiles import Profile, ProfileChannels
from tests.support.calls import aws_calls
from tests.support.clients import welcome
from tests.support.faults import SimulatedLambdaTimeout, fail_call
from tests.support.stack import FakeLambdaContext

NOW = "2026-12-01T00:00:00.000Z"


@pytest.fixture
def workspace(stack: Any) -> str:
    return str(stack.workspaces[0].workspace)


def add_profile(workspace: str, distinct_id: str, status: int = 1, version: str = "live", **channel: Any) -> None:
    create_profile(
        workspace,
        Profile.model_validate(
            {
                "distinct_id": distinct_id,
                "status": status,
                "channel": channel,
                "created_at": NOW,
                "updated_at": NOW,
                "version": version,
            }
        ),
    )


def change_email(workspace: str, distinct_id: str, email: str) -> None:
    found = get_profile(workspace, "live", distinct_id)
    assert found is not None
    profile, revision = found
    changed = profile.model_copy(update={"channel": ProfileChannels(email=email)})
    replace_profile(workspace, changed, revision)


def by_profile(distinct_id: str = "user-1", event: str = "Welcome_Email", **to: str) -> dict[str, Any]:
    body: dict[str, Any] = {"event": event, "distinct_id": distinct_id, "data": {"name": "Rahul"}}
    if to:
        body["to"] = to
    return body


@pytest.fixture
def reads(stack: Any) -> Any:
    """Each DynamoDB operation made on the profiles table while the test runs."""
    with aws_calls(table=stack.resources.tables["ProfilesTable"]) as calls:
        yield calls


def test_an_event_by_distinct_id_goes_to_the_profiles_destination(
    client: Any, stack: Any, workspace: str, sender: Any
) -> None:
    from tests.support.stack import sent_emails

    add_profile(workspace, "user-1", email="profile@example.com", sms="+14155550100")
    response = client.post(by_profile(), key="by-profile")

    assert response.status == 202, response.body
    answer = response.json()["response"]
    assert answer == {
        "email": {"destination": "profile@example.com", "msg_id": answer["email"]["msg_id"], "status": "ok"}
    }
    [message] = stack.queued_messages()
    assert (message["destination"], message["distinct_id"]) == ("profile@example.com", "user-1")
    sender.drain()
    [email] = sent_emails()
    assert email.destinations["ToAddresses"] == ["profile@example.com"]


def test_R4_a_request_by_distinct_id_replays_identically_after_the_profile_changed_or_was_deleted(
    client: Any, stack: Any, workspace: str
) -> None:
    add_profile(workspace, "user-1", email="first@example.com")
    first = client.post(by_profile(), key="replay-profile")
    change_email(workspace, "user-1", "second@example.com")
    replay = client.post(by_profile(), key="replay-profile")
    aws_client("dynamodb").delete_item(
        TableName=stack.resources.tables["ProfilesTable"],
        Key={"scope": {"S": f"{workspace}#live"}, "distinct_id": {"S": "user-1"}},
    )
    after_delete = client.post(by_profile(), key="replay-profile")

    for later in (replay, after_delete):
        assert (later.status, later.body, later.headers["idempotency-replayed"]) == (202, first.body, "true")
    assert first.json()["response"]["email"]["destination"] == "first@example.com"
    assert len(stack.queued_messages()) == 1


def test_to_wins_over_the_profile_where_both_give_a_channel(client: Any, stack: Any, workspace: str) -> None:
    add_profile(workspace, "user-1", email="profile@example.com", sms="+14155550100")
    response = client.post(
        by_profile(event="OrderConfirmed", email="given@example.com")
        | {"data": {"name": "R", "order_id": "1", "amount": "2"}}
    )
    answer = response.json()["response"]
    assert {c: r["destination"] for c, r in answer.items()} == {"email": "given@example.com", "sms": "+14155550100"}
    assert {m["channel"]: m["destination"] for m in stack.queued_messages()} == {
        "email": "given@example.com",
        "sms": "+14155550100",
    }


def test_an_inactive_profile_gets_nothing_even_when_to_gives_every_channel(
    client: Any, stack: Any, workspace: str, reads: list[str]
) -> None:
    """Nothing is sent to an inactive profile (docs/contract.md section 6): a request naming its distinct_id
    reads the profile even when `to` leaves the profile nothing to add."""
    add_profile(workspace, "sleeper", status=0, email="profile@example.com")
    reads.clear()
    response = client.post(by_profile("sleeper", email="given@example.com"), key="inactive-with-to")
    assert response.status == 202, response.body
    receipt = response.json()["response"]["email"]
    assert receipt["destination"] == "given@example.com" and receipt["status"] == "skipped"
    assert stack.queued_messages() == []
    assert reads == ["GetItem"]


def test_a_request_without_a_distinct_id_reads_no_profile(client: Any, stack: Any, reads: list[str]) -> None:
    reads.clear()
    response = client.post({"event": "Welcome_Email", "to": {"email": "a@example.com"}, "data": {"name": "R"}})
    assert response.status == 202
    assert reads == []


def test_an_unknown_profile_with_nothing_in_to_is_400_naming_the_distinct_id_and_stores_nothing(
    client: Any, stack: Any
) -> None:
    response = client.post(by_profile("ghost"), key="ghost")
    assert response.status == 400
    body = response.json()
    assert body["status"] == "error" and "ghost" in body["_message"]
    assert body["errors"] == [{"field": "distinct_id", "message": "no profile 'ghost'"}]
    assert stack.idempotency_items() == [] and stack.queued_messages() == []


def test_an_unknown_profile_still_gets_what_to_gives(client: Any, stack: Any) -> None:
    response = client.post(
        by_profile("ghost", event="OrderConfirmed", email="given@example.com")
        | {"data": {"name": "R", "order_id": "1", "amount": "2"}}
    )
    assert response.status == 202
    assert set(response.json()["response"]) == {"email"}


def test_a_profile_without_a_destination_for_the_events_channels_is_400_naming_to(client: Any, workspace: str) -> None:
    add_profile(workspace, "user-1", sms="+14155550100")
    response = client.post(by_profile())
    assert response.status == 400
    assert response.json()["errors"] == [{"field": "to", "message": "must include one of: email"}]


def test_an_inactive_profile_gets_nothing_and_its_notifications_are_skipped_with_the_reason(
    client: Any, stack: Any, workspace: str, status: Any
) -> None:
    add_profile(workspace, "sleeper", status=0, email="sleeper@example.com")
    response = client.post(by_profile("sleeper"), key="inactive")

    assert response.status == 202, response.body
    receipt = response.json()["response"]["email"]
    reason = "skipped: the profile 'sleeper' is inactive (status 0); nothing is sent to it"
    assert (receipt["status"], receipt["_message"], receipt["destination"]) == (
        "skipped",
        reason,
        "sleeper@example.com",
    )
    assert stack.queued_messages() == []
    shown = status.get(response.json()["request_id"]).json()["notifications"]
    assert [(n["channel"], n["state"], n["reason"]) for n in shown] == [("email", "skipped", reason)]


def test_live_and_test_profiles_are_separate_when_sending(client: Any, workspace: str) -> None:
    add_profile(workspace, "user-1", version="test", email="test-only@example.com")
    assert client.post(by_profile()).status == 400
    on_test = client.post(by_profile(), version="test")
    assert on_test.json()["response"]["email"]["destination"] == "test-only@example.com"


def test_R9_an_unreachable_profiles_table_is_503_and_releases_the_key(client: Any, stack: Any, workspace: str) -> None:
    add_profile(workspace, "user-1", email="profile@example.com")
    with fail_call("dynamodb", "GetItem", table=stack.resources.tables["ProfilesTable"]):
        refused = client.post(by_profile(), key="profiles-down")
    assert refused.status == 503 and refused.headers["retry-after"] == "2"
    assert stack.idempotency_items() == [] and stack.queued_messages() == []
    assert client.post(by_profile(), key="profiles-down").status == 202


def timed_out_after_sending(**_: object) -> None:
    raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")


@pytest.mark.parametrize("after", [False, True], ids=["refused", "timed-out-after-sending"])
def test_R9_destinations_that_cannot_be_recorded_are_503_and_a_retry_sends_once(
    client: Any, stack: Any, workspace: str, after: bool
) -> None:
    """The destinations are recorded in the claim (one UpdateItem) before anything is queued. When that write
    is refused, or times out after DynamoDB took it (botocore's retries included), nothing was sent: the
    claim is released with a 503, and a retry with the same key executes once."""
    add_profile(workspace, "user-1", email="profile@example.com")
    fault = (
        {"action": timed_out_after_sending, "after": True}
        if after
        else {"table": stack.resources.tables["IdempotencyTable"]}
    )
    with fail_call("dynamodb", "UpdateItem", **fault) as intercepted:
        refused = client.post(by_profile(), key="record-fails")
    assert intercepted, "the destinations were never recorded"
    assert refused.status == 503 and "retry-after" in refused.headers
    assert stack.idempotency_items() == [] and stack.queued_messages() == []

    retried = client.post(by_profile(), key="record-fails")
    assert retried.status == 202
    assert retried.json()["response"]["email"]["destination"] == "profile@example.com"
    assert len(stack.queued_messages()) == 1


def test_R8_a_retry_after_a_crash_sends_and_answers_the_destinations_first_resolved(
    client: Any, stack: Any, workspace: str
) -> None:
    """The first execution queues to the profile's address and dies before completing; the profile changes; the
    retry (after the claim lapsed) answers and queues the first address again, so one address is ever sent to."""
    add_profile(workspace, "user-1", email="first@example.com")

    def crash(**_: object) -> None:
        raise SimulatedLambdaTimeout()

    start = datetime.now(UTC)
    with freeze_time(start) as clock:
        with fail_call("sqs", "SendMessageBatch", action=crash, after=True), pytest.raises(SimulatedLambdaTimeout):
            # An invocation with 3 s left: its claim lapses 3 s after it started.
            client.post(by_profile(), key="crash-profile", context=FakeLambdaContext(3_000))
        change_email(workspace, "user-1", "second@example.com")
        clock.tick(timedelta(seconds=4))  # past the crashed invocation's timeout: its claim lapsed
        retry = client.post(by_profile(), key="crash-profile")

    assert retry.status == 202 and "idempotency-replayed" not in retry.headers
    assert retry.json()["response"]["email"]["destination"] == "first@example.com"
    messages = stack.queued_messages()
    assert len(messages) == 2  # the crashed execution's copy and the retry's, one msg_id
    assert {(m["msg_id"], m["destination"]) for m in messages} == {
        (retry.json()["response"]["email"]["msg_id"], "first@example.com")
    }


def test_a_keyed_request_by_distinct_id_makes_six_aws_calls(client: Any, stack: Any, workspace: str) -> None:
    """claim, profile GetItem, the destinations recorded in the claim, the suppression check, enqueue, completion."""
    add_profile(workspace, "user-1", email="profile@example.com")
    client.post(by_profile(email="warm@example.com"))  # warm the definitions cache
    with aws_calls("dynamodb", "sqs") as made:
        assert client.post(by_profile(), key="counted").status == 202
    assert made == ["PutItem", "GetItem", "UpdateItem", "BatchGetItem", "SendMessageBatch", "TransactWriteItems"]


# Event Bulk ----------------------------------------------------------------------------------------------------


def test_bulk_items_by_distinct_id_read_their_profiles_in_one_batch(
    bulk_client: Any, stack: Any, workspace: str, reads: list[str]
) -> None:
    for index in range(3):
        add_profile(workspace, f"user-{index}", email=f"user{index}@example.com")
    add_profile(workspace, "sleeper", status=0, email="sleeper@example.com")
    reads.clear()
    body = {
        "event": "Welcome_Email",
        "batch": [
            {"distinct_id": "user-0", "data": {"name": "Zero"}},
            {"distinct_id": "user-1", "to": {"email": "given@example.com"}, "data": {"name": "One"}},
            {"distinct_id": "user-2", "data": {"name": "Two"}},
            {"distinct_id": "sleeper"},  # inactive: sent nothing, so its data needs nothing (D8)
            {"to": {"email": "plain@example.com"}, "data": {"name": "Plain"}},
        ],
    }
    response = bulk_client.post(body, key="bulk-profiles")

    assert response.status == 202, response.body
    items = response.json()["response"]
    assert [item["email"]["destination"] for item in items] == [
        "user0@example.com",
        "given@example.com",
        "user2@example.com",
        "sleeper@example.com",
        "plain@example.com",
    ]
    assert [item["email"]["status"] for item in items] == ["ok", "ok", "ok", "skipped", "ok"]
    assert reads == ["BatchGetItem"]
    assert sorted(m["destination"] for m in stack.queued_messages()) == [
        "given@example.com",
        "plain@example.com",
        "user0@example.com",
        "user2@example.com",
    ]


def test_bulk_reads_more_than_100_profiles_in_batches_of_100(
    bulk_client: Any, stack: Any, workspace: str, reads: list[str]
) -> None:
    for index in range(150):
        add_profile(workspace, f"user-{index}", email=f"user{index}@example.com")
    reads.clear()
    body = {
        "event": "Welcome_Email",
        "batch": [{"distinct_id": f"user-{index}", "data": {"name": "U"}} for index in range(150)],
    }
    response = bulk_client.post(body)
    assert response.status == 202
    assert [item["email"]["destination"] for item in response.json()["response"]][-1] == "user149@example.com"
    assert reads == ["BatchGetItem", "BatchGetItem"]


def test_bulk_items_with_unknown_profiles_and_nothing_in_to_are_one_400_naming_each_seq(
    bulk_client: Any, stack: Any, workspace: str
) -> None:
    add_profile(workspace, "user-1", email="one@example.com")
    body = {"event": "Welcome_Email", "batch": [{"distinct_id": "user-1"}, {"distinct_id": "ghost"}]}
    response = bulk_client.post(body, key="bulk-ghost")
    assert response.status == 400
    assert response.json()["errors"] == [{"seq": 2, "field": "distinct_id", "message": "no profile 'ghost'"}]
    assert stack.idempotency_items() == [] and stack.queued_messages() == []


# Automations ---------------------------------------------------------------------------------------------------


def onboarding_by_profile(workspace: str) -> None:
    """The `onboarding` automation as one step to the profile named by the payload's `user`, in use at once."""
    from notify.logic.definitions import forget_cached_definitions

    step = {"event": "Welcome_Email", "distinct_id": "user", "data": "{name: name}"}
    put_automation(workspace, AutomationDefinition.model_validate({"id": "onboarding", "steps": [step]}))
    forget_cached_definitions()


def test_an_automation_step_with_a_distinct_id_goes_to_the_profile(
    automation_client: Any, stack: Any, workspace: str
) -> None:
    onboarding_by_profile(workspace)
    add_profile(workspace, "user-1", email="profile@example.com")
    response = automation_client.post({"user": "user-1", "name": "Rahul"}, key="automation-profile")
    assert response.status == 202, response.body
    [step] = response.json()["steps"]
    assert step["response"]["email"]["destination"] == "profile@example.com"
    assert [m["destination"] for m in stack.queued_messages()] == ["profile@example.com"]

    ghost = automation_client.post({"user": "ghost", "name": "Rahul"}, key="automation-ghost")
    assert ghost.status == 400
    assert ghost.json()["errors"] == [{"step": 1, "field": "distinct_id", "message": "no profile 'ghost'"}]


def test_an_inactive_profiles_bulk_item_shows_skipped_on_its_own_status_route(
    bulk_client: Any, stack: Any, workspace: str, status: Any
) -> None:
    add_profile(workspace, "sleeper", status=0, email="sleeper@example.com")
    body = {"event": "Welcome_Email", "batch": [welcome("awake@example.com"), {"distinct_id": "sleeper"}]}
    response = bulk_client.post(body, key="bulk-inactive")
    assert response.status == 202
    awake, sleeper = response.json()["response"]
    assert [n["state"] for n in status.get(awake["request_id"]).json()["notifications"]] == ["queued"]
    [skipped] = status.get(sleeper["request_id"]).json()["notifications"]
    assert (skipped["state"], skipped["reason"]) == ("skipped", inactive_reason("sleeper"))
    assert [m["destination"] for m in stack.queued_messages()] == ["awake@example.com"]


def test_an_automation_whose_every_step_goes_to_an_inactive_profile_is_202_and_queues_nothing(
    automation_client: Any, stack: Any, workspace: str
) -> None:
    onboarding_by_profile(workspace)
    add_profile(workspace, "sleeper", status=0, email="sleeper@example.com")
    response = automation_client.post({"user": "sleeper", "name": "S"}, key="automation-inactive")
    assert response.status == 202, response.body
    assert response.json()["steps"][0]["response"]["email"]["status"] == "skipped"
    assert stack.queued_messages() == []
