"""A function crashing between enqueue and completion, then the client retrying (R3, R8).

Two kinds of crash: an exception (the product catches it, so its 500 is stored like any outcome),
and the Lambda timeout (SimulatedLambdaTimeout: nothing in the handler runs after it, so the claim
stays INPROGRESS until the dead invocation's deadline). Time moves with freezegun, never with sleeps.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.support.clients import BulkApiClient
from tests.support.faults import SimulatedLambdaTimeout, fail_call, time_out
from tests.support.scenarios import Api, assert_delivered_at_most_once, deliver_all, recorded_response
from tests.support.sender import SenderDriver
from tests.support.stack import FakeLambdaContext, Stack

DEADLINE_MS = 3_000
PAST_DEADLINE = timedelta(seconds=4)


def explode(**_: Any) -> None:
    raise RuntimeError("bug after enqueue")


def crash_after_enqueue(api: Api, key: str) -> None:
    """The API queues the notifications, then the runtime kills it before it stores the response."""
    with fail_call("sqs", "SendMessageBatch", action=time_out, after=True):
        try:
            api.client.post(api.body("a@example.com"), key=key, context=FakeLambdaContext(DEADLINE_MS))
        except SimulatedLambdaTimeout:
            return
    raise AssertionError("the invocation was expected to time out")


def test_R3_exception_after_enqueue_is_a_stored_500_and_what_was_queued_is_delivered_once(
    api: Api, stack: Stack, sender: SenderDriver, clock: Any
) -> None:
    with fail_call("sqs", "SendMessageBatch", action=explode, after=True):
        first = api.client.post(api.body("a@example.com"), key="exploded")

    assert first.status == 500
    assert first.json() == {"_message": "Internal server error", "status": "error"}
    [record] = api.records(stack)
    assert record["status"]["S"] == "COMPLETED"
    assert recorded_response(record)["body"] == first.body

    clock.tick(PAST_DEADLINE)  # well after the invocation's deadline: the stored 500 still stands
    retried = api.client.post(api.body("a@example.com"), key="exploded")

    assert (retried.status, retried.body, retried.headers["idempotency-replayed"]) == (500, first.body, "true")
    deliver_all(sender)
    # The notifications queued before the exception go out once; the replayed 500 queues nothing more.
    assert_delivered_at_most_once(api.emails_per_request)


def test_R8_timeout_after_enqueue_then_retry_after_the_claim_lapses_delivers_once(
    api: Api, stack: Stack, sender: SenderDriver, clock: Any
) -> None:
    crash_after_enqueue(api, "timed-out")

    [held] = api.records(stack)
    assert held["status"]["S"] == "INPROGRESS"
    early = api.client.post(api.body("a@example.com"), key="timed-out")
    assert (early.status, early.headers["retry-after"]) == (409, "1")

    clock.tick(PAST_DEADLINE)
    retried = api.client.post(api.body("a@example.com"), key="timed-out")

    assert retried.status == 202 and "idempotency-replayed" not in retried.headers
    [completed] = api.records(stack)
    assert completed["status"]["S"] == "COMPLETED"
    assert recorded_response(completed)["body"] == retried.body
    queued_ids = sorted(message["msg_id"] for message in stack.queued_messages())
    assert queued_ids == sorted(api.msg_ids(retried.json()) * 2)  # the dead run queued the very same ids
    replayed = api.client.post(api.body("a@example.com"), key="timed-out")
    assert (replayed.body, replayed.headers["idempotency-replayed"]) == (retried.body, "true")
    deliver_all(sender)
    assert_delivered_at_most_once(api.emails_per_request)


def test_R8_retry_after_the_first_copies_were_delivered_sends_nothing_more(
    api: Api, stack: Stack, sender: SenderDriver, clock: Any
) -> None:
    """The senders deliver what the dead invocation queued before the client retries; the retry queues the
    same msg_ids again, and the senders recognise them."""
    crash_after_enqueue(api, "delivered-first")
    deliver_all(sender)
    assert_delivered_at_most_once(api.emails_per_request)

    clock.tick(PAST_DEADLINE)
    retried = api.client.post(api.body("a@example.com"), key="delivered-first")

    assert retried.status == 202
    assert len(stack.queued_messages()) == api.emails_per_request
    deliver_all(sender)
    assert_delivered_at_most_once(api.emails_per_request)
    [completed] = api.records(stack)
    assert recorded_response(completed)["body"] == retried.body


def test_R8_bulk_timeout_midway_through_its_batches_then_retry_delivers_each_recipient_once(
    stack: Stack, sender: SenderDriver, clock: Any
) -> None:
    """25 recipients take three SendMessageBatch calls; the runtime kills the function after the first."""
    bulk = BulkApiClient(stack.workspaces[0])
    body = {
        "event": "Welcome_Email",
        "batch": [{"to": {"email": f"user{n}@example.com"}, "data": {"name": f"U{n}"}} for n in range(25)],
    }
    batches: list[int] = []

    def time_out_after_first_batch(**_: Any) -> None:
        batches.append(1)
        if len(batches) == 1:
            raise SimulatedLambdaTimeout()

    with fail_call("sqs", "SendMessageBatch", action=time_out_after_first_batch, after=True):
        try:
            bulk.post(body, key="bulk-midway", context=FakeLambdaContext(DEADLINE_MS))
        except SimulatedLambdaTimeout:
            pass
        else:
            raise AssertionError("the invocation was expected to time out")
    partly_queued = len(stack.queued_messages())
    assert 10 <= partly_queued <= 25

    clock.tick(PAST_DEADLINE)
    retried = bulk.post(body, key="bulk-midway")

    assert retried.status == 202
    assert [item["email"]["status"] for item in retried.json()["response"]] == ["ok"] * 25
    deliver_all(sender)
    assert_delivered_at_most_once(25)
