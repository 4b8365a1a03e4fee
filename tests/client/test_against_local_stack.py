"""The client against `python -m local` (what `make run` serves) with its senders on: the promise end to end.
A call keeps its key across its own retries, so a lost answer is replayed and the email goes out once (R4, R8).
(Cancel and the idempotency lookup, SPEC section 9, are tested to their wire format in test_wire.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from notify_client import ApiError, Client, RetryPolicy
from tests.client.lossy_proxy import LossyProxy
from tests.support.local_stack import (
    API_KEY_1,
    WORKSPACE_1,
    LocalStackProcess,
    emails_to,
    start_local_stack,
    wait_for,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def delivering_stack() -> Iterator[LocalStackProcess]:
    """The product's template with every SQS event source running, as `make run` serves it."""
    stack = start_local_stack()
    yield stack
    assert stack.stop() == 0, f"local stack did not stop cleanly; log: {stack.log_path}"


@pytest.fixture
def client(delivering_stack: LocalStackProcess) -> Iterator[Client]:
    with Client(WORKSPACE_1, API_KEY_1, base_url=f"http://127.0.0.1:{delivering_stack.api_port}") as created:
        yield created


def address(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


def welcome(to: str) -> dict[str, object]:
    return {"event": "Welcome_Email", "to": {"email": to}, "data": {"name": "Rahul"}}


def states(client: Client, request_id: str) -> list[str]:
    return [n["state"] for n in client.status(request_id).body["notifications"]]


def wait_until_sent(client: Client, request_id: str) -> None:
    wait_for(lambda: states(client, request_id) == ["sent"], message=f"request {request_id} sent")


def test_R8_an_answer_lost_after_the_server_executed_is_replayed_on_retry_and_one_email_is_sent(
    delivering_stack: LocalStackProcess,
) -> None:
    to = address("lost-answer")
    with (
        LossyProxy(delivering_stack.api_port, lose_answers=1) as proxy,
        Client(WORKSPACE_1, API_KEY_1, base_url=proxy.url, retry=RetryPolicy(deadline=30, base_delay=0.1)) as client,
    ):
        result = client.event(welcome(to))

    # The first answer was executed upstream and lost; the retry carried the same key and got the replay.
    assert [(method, key, status, delivered) for method, _, key, status, delivered in proxy.seen] == [
        ("POST", result.idempotency_key, 202, False),
        ("POST", result.idempotency_key, 202, True),
    ]
    assert (result.status_code, result.replayed, result.attempts) == (202, True, 2)
    assert result.body["response"]["email"]["destination"] == to

    with Client(WORKSPACE_1, API_KEY_1, base_url=f"http://127.0.0.1:{delivering_stack.api_port}") as direct:
        assert result.request_id is not None
        wait_until_sent(direct, result.request_id)
    (email,) = emails_to(delivering_stack, to)
    assert email["subject"] == "Welcome Rahul"


def test_R4_the_same_key_replays_the_first_answer_and_sends_nothing_more(
    client: Client, delivering_stack: LocalStackProcess
) -> None:
    to = address("replay")
    first = client.event(welcome(to))
    assert (first.status_code, first.replayed) == (202, False)
    assert first.body["response"]["email"]["status"] == "ok"

    again = client.event({**welcome(to), "data": {"name": "Changed"}}, idempotency_key=first.idempotency_key)
    assert (again.status_code, again.body, again.replayed) == (202, first.body, True)
    assert first.request_id is not None
    wait_until_sent(client, first.request_id)
    assert len(emails_to(delivering_stack, to)) == 1


def test_R5_a_refused_request_raises_api_error_and_its_key_can_be_used_again(client: Client) -> None:
    to = address("refused")
    with pytest.raises(ApiError) as raised:
        client.event({"event": "No_Such_Event", "to": {"email": to}})
    error = raised.value
    assert error.status_code == 400
    assert error.message == "The notification event name 'No_Such_Event' is invalid or does not exist"
    assert error.attempts == 1
    assert error.idempotency_key is not None

    corrected = client.event(welcome(to), idempotency_key=error.idempotency_key)
    assert (corrected.status_code, corrected.replayed) == (202, False)


def test_a_body_that_fails_validation_raises_api_error_naming_the_field(client: Client) -> None:
    with pytest.raises(ApiError) as raised:
        client.event({"event": "Welcome_Email", "to": {"email": "not-an-address"}})
    assert raised.value.status_code == 400
    assert [e["field"] for e in raised.value.errors] == ["to.email"]


def test_an_unknown_api_key_raises_api_error_401(delivering_stack: LocalStackProcess) -> None:
    wrong = "local-key-9999-zzzzzzzzzzzzzzzzzzzz"
    base_url = f"http://127.0.0.1:{delivering_stack.api_port}"
    with Client(WORKSPACE_1, wrong, base_url=base_url) as client, pytest.raises(ApiError) as raised:
        client.event(welcome(address("unauthorised")))
    assert (raised.value.status_code, raised.value.message, raised.value.attempts) == (401, "Invalid API details", 1)
    assert wrong not in str(raised.value)


def test_bulk_answers_per_item_request_ids_that_the_status_route_knows(
    client: Client, delivering_stack: LocalStackProcess
) -> None:
    recipients = [address("bulk-1"), address("bulk-2")]
    result = client.bulk(
        {"event": "Welcome_Email", "batch": [{"to": {"email": r}, "data": {"name": "B"}} for r in recipients]}
    )
    assert result.status_code == 202
    items = result.body["response"]
    assert [item["seq"] for item in items] == [1, 2]
    for item in items:
        wait_until_sent(client, item["request_id"])
    assert [len(emails_to(delivering_stack, r)) for r in recipients] == [1, 1]
    assert client.bulk({"event": "Welcome_Email", "batch": []}, idempotency_key=result.idempotency_key).replayed


def test_trigger_starts_the_onboarding_automation_and_replays_with_its_key(client: Client) -> None:
    payload = {"email": address("onboarding"), "phone": "+14155550100", "name": "Rahul", "order": {"id": "A-1"}}
    result = client.trigger("onboarding", payload, cancellation_key=f"signup-{uuid.uuid4()}")
    assert (result.status_code, result.body["automation_id"]) == (202, "onboarding")
    assert [step["step"] for step in result.body["steps"]] == [1, 2]
    replay = client.trigger("onboarding", payload, idempotency_key=result.idempotency_key)
    assert (replay.body, replay.replayed) == (result.body, True)


def test_R7_on_test_every_call_executes_whatever_its_key(delivering_stack: LocalStackProcess) -> None:
    base_url = f"http://127.0.0.1:{delivering_stack.api_port}"
    with Client(WORKSPACE_1, API_KEY_1, base_url=base_url, version="test") as sandbox:
        first = sandbox.event(welcome(address("sandbox")))
        second = sandbox.event(welcome(address("sandbox")), idempotency_key=first.idempotency_key)
    assert not first.replayed and not second.replayed
    assert first.request_id != second.request_id


def test_profiles_round_trip_and_an_event_sent_by_distinct_id(
    client: Client, delivering_stack: LocalStackProcess
) -> None:
    distinct_id = f"client/{uuid.uuid4()}"  # a '/' travels percent-encoded inside its path segment
    to = address("profile")
    created = client.profiles.create(distinct_id, name="Rahul", channel={"email": to})
    assert (created.status_code, created.body) == (201, {"_message": "Profile created successfully", "status": "ok"})
    assert client.profiles.get(distinct_id).body["channel"] == {"email": to}
    assert client.profiles.add_channels(distinct_id, {"sms": "+14155550100"}).status_code == 200
    assert client.profiles.update(distinct_id, name="Rahul K").status_code == 200
    profile = client.profiles.get(distinct_id).body
    assert (profile["name"], profile["channel"]) == ("Rahul K", {"email": to, "sms": "+14155550100"})

    sent = client.event({"event": "Welcome_Email", "distinct_id": distinct_id, "data": {"name": "Rahul"}})
    assert sent.body["response"]["email"]["destination"] == to
    assert sent.request_id is not None
    wait_until_sent(client, sent.request_id)
    assert len(emails_to(delivering_stack, to)) == 1

    assert client.profiles.delete_channels(distinct_id, ["sms"]).status_code == 200
    assert client.profiles.delete([distinct_id]).body == {"_message": "1 User(s) deleted successfully", "status": "ok"}
    with pytest.raises(ApiError) as raised:
        client.profiles.get(distinct_id)
    assert (raised.value.status_code, raised.value.message) == (400, "incorrect/non existing distinct_id provided")


def test_C1_K1_cancel_a_run_by_its_cancellation_key_and_look_both_keys_up(client: Client) -> None:
    """The client's `trigger(cancellation_key=...)`, `cancel` and `idempotency_lookup` against the server's routes
    (docs/contract.md section 9): the delayed step is cancelled, and each key's stored answer reads back."""
    run = f"client-cancel-{uuid.uuid4()}"
    payload = {"email": address("cancel"), "name": "Rahul", "order": {"id": "A-1", "amount": "1 EUR"}}
    triggered = client.trigger("onboarding", payload, cancellation_key=run)
    assert triggered.status_code == 202

    cancelled = client.cancel("onboarding", run)

    assert cancelled.status_code == 200
    # Step 2 (OrderConfirmed, a minute later) is still waiting: cancelled; step 1 may already have gone out.
    assert any(entry["step"] == 2 for entry in cancelled.body["cancelled"])
    again = client.cancel("onboarding", run, idempotency_key=cancelled.idempotency_key)
    assert (again.replayed, again.body) == (True, cancelled.body)
    assert triggered.idempotency_key is not None  # the client made one (a v4 UUID)
    looked_up = client.idempotency_lookup("automation", triggered.idempotency_key)
    assert looked_up is not None and looked_up.body["state"] == "completed"
    assert looked_up.body["response"] == triggered.body
    assert client.idempotency_lookup("event", f"never-used-{uuid.uuid4()}") is None
