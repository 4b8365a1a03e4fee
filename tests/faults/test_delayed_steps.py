"""A delayed automation step queued again by a client retry, hours after the first copy (R8).

The run crashed after enqueueing; the client retried hours later (still within the key's expiry), so
the same msg_id is due twice, hours apart, days from now. The sender's guard for the msg_id must
outlive the key plus the step's delay, or the second copy finds no guard and sends again.
Time moves with freezegun, never with sleeps.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from notify.dal.definitions import put_automation
from notify.models.definitions import AutomationDefinition
from notify.timestamps import iso_utc
from tests.support.clients import AutomationApiClient, StatusApiClient
from tests.support.faults import SimulatedLambdaTimeout, fail_call, time_out
from tests.support.scenarios import delivered
from tests.support.sender import SenderDriver
from tests.support.stack import FakeLambdaContext, Stack

TWO_DAYS = 2 * 24 * 60 * 60
PAYLOAD = {"email": "a@example.com", "name": "Rahul"}


def take_queued(stack: Stack, sender: SenderDriver) -> list[dict[str, Any]]:
    """The messages on the queue (delayed ones included), removed from it so the test hands them out."""
    messages = stack.queued_messages()
    sender.sqs.purge_queue(QueueUrl=stack.queue_url)
    return messages


def test_R8_delayed_step_copy_from_a_retry_hours_later_is_not_sent_twice(
    stack: Stack, sender: SenderDriver, status: StatusApiClient, clock: Any
) -> None:
    workspace = stack.workspaces[0].workspace
    reminder = {"event": "Welcome_Email", "to": {"email": "email"}, "data": "{name: name}", "delay_seconds": TWO_DAYS}
    put_automation(workspace, AutomationDefinition.model_validate({"id": "reminder", "steps": [reminder]}))
    trigger = AutomationApiClient(stack.workspaces[0], "reminder")
    start = datetime.now(UTC)

    with fail_call("sqs", "SendMessageBatch", action=time_out, after=True), contextlib.suppress(SimulatedLambdaTimeout):
        trigger.post(PAYLOAD, key="late-retry", context=FakeLambdaContext(3_000))
    [first] = take_queued(stack, sender)
    clock.tick(timedelta(hours=10))
    retried = trigger.post(PAYLOAD, key="late-retry")
    assert retried.status == 202
    [second] = take_queued(stack, sender)
    assert second["msg_id"] == first["msg_id"]
    # The run started when the first request was received: the retry's copy is due when the first one is.
    assert second["not_before"] == first["not_before"]
    assert retried.json()["received_time"] == iso_utc(start)

    clock.move_to(datetime.fromtimestamp(first["not_before"] + 1, UTC))
    sender.requeue(first)
    sender.drain()
    assert sum(delivered().values()) == 1

    clock.tick(timedelta(hours=10))  # the retry's copy comes back later still, past the key's expiry
    assert datetime.now(UTC) > start + timedelta(days=1)
    sender.requeue(second)
    sender.drain()

    assert sum(delivered().values()) == 1
    [shown] = status.get(retried.json()["request_id"]).json()["notifications"]
    assert (shown["state"], shown["attempts"]) == ("sent", 1)


def test_D7_a_delayed_step_the_queue_refuses_to_take_back_is_failed_dead_lettered_never_queued_for_good(
    stack: Stack, sender: SenderDriver, status: StatusApiClient
) -> None:
    # Issue 18, case 6: its re-enqueue refused on every receive, the message went to the dead-letter queue with
    # nothing recorded, and the status route showed `queued`, 0 attempts, for good.
    from tests.support.faults import queue_refuses

    workspace = stack.workspaces[0].workspace
    reminder = {"event": "Welcome_Email", "to": {"email": "email"}, "data": "{name: name}", "delay_seconds": TWO_DAYS}
    put_automation(workspace, AutomationDefinition.model_validate({"id": "reminder", "steps": [reminder]}))
    accepted = AutomationApiClient(stack.workspaces[0], "reminder").post(PAYLOAD, key="no-requeue")
    [message] = take_queued(stack, sender)
    sender.requeue(message)  # due now on the queue, two days early: the sender puts it back, or tries to

    with queue_refuses("a@example.com"):
        sender.drain()

    assert [dead["msg_id"] for dead in sender.dead_letters()] == [message["msg_id"]]
    answer = status.get(accepted.json()["request_id"])
    assert answer.status == 200, answer.body
    [shown] = answer.json()["notifications"]
    assert shown["state"] == "failed"
    assert shown["reason"].startswith("dead-lettered: ")
    assert sum(delivered().values()) == 0
