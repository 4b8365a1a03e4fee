"""The sender's msg_id guard is the notification's own delivery item (R8, issue 25): one write claims it, one records
the outcome. The guards an earlier sender kept in the idempotency table (`send#<sha256>`, Powertools' records) are
honoured until they expire, so a message in flight during the deploy is never sent twice."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from notify.dal.delivery_log import claim_delivery, count_attempt
from notify.dal.idempotency_store import send_guard_id
from notify.logic.sender import read_message, send_notification
from notify.observability import mask_destination
from tests.support.clients import EventApiClient, StatusApiClient, welcome
from tests.support.faults import fail_call
from tests.support.sender import SenderDriver
from tests.support.stack import Stack, load_function, sent_emails, sent_sms
from tests.unit.test_cancellation import cancel_client, step_msg_ids, trigger

DAY = 86_400


def shown(status: StatusApiClient, request_id: str) -> dict[str, Any]:
    [notification] = status.get(request_id).json()["notifications"]
    return dict(notification)


def as_the_earlier_sender_left_it(stack: Stack, message: dict[str, Any], guard: str, outcome: Any = None) -> None:
    """The item and the guard an earlier sender wrote: its Powertools guard (`guard`: INPROGRESS or COMPLETED with
    `outcome`), and the attempt it recorded before calling a provider (an item with no `guard` attribute)."""
    count_attempt(
        message["request_id"],
        message["msg_id"],
        channel=message["channel"],
        destination=mask_destination(message["destination"]),
        now="2026-12-07T00:00:00.000Z",
        expires_at=int(time.time()) + 30 * DAY,
        message=json.dumps(message),
    )
    item = {
        "id": {"S": send_guard_id(message["msg_id"])},
        "status": {"S": guard},
        "expiration": {"N": str(int(time.time()) + 5 * DAY)},
    }
    if outcome is not None:
        item["data"] = {"S": json.dumps(outcome, sort_keys=True)}
    ddb = stack.session.client("dynamodb")
    ddb.put_item(TableName=stack.resources.tables["IdempotencyTable"], Item=item)


def test_R8_an_earlier_senders_guard_in_progress_blocks_the_send(
    client: EventApiClient, sender: SenderDriver, stack: Stack, status: StatusApiClient
) -> None:
    """A sender of the earlier version holds the msg_id (it may be calling the provider): no copy sends it; the last
    receive records `unknown`, as for a claim of this version held by a sender that died."""
    request_id = client.post(welcome(), key="legacy-in-progress").json()["request_id"]
    [message] = stack.queued_messages()
    as_the_earlier_sender_left_it(stack, message, "INPROGRESS")

    sender.drain()

    assert sent_emails() == []
    notification = shown(status, request_id)
    assert notification["state"] == "unknown"
    assert "interrupted" in notification["reason"]


def test_R8_an_earlier_senders_completed_guard_ends_every_copy_with_its_outcome(
    client: EventApiClient, sender: SenderDriver, stack: Stack, status: StatusApiClient
) -> None:
    """The earlier sender sent it and its guard kept the outcome, but its delivery log write was lost (`queued`):
    the copy sends nothing and writes the guard's outcome to the item, which ends every later copy."""
    request_id = client.post(welcome(), key="legacy-completed").json()["request_id"]
    [message] = stack.queued_messages()
    outcome = {"state": "sent", "provider": "ses", "provider_message_id": "ses-1", "reason": None}
    as_the_earlier_sender_left_it(stack, message, "COMPLETED", outcome)

    sender.drain()
    sender.requeue(message)
    sender.drain()

    assert sent_emails() == []
    notification = shown(status, request_id)
    assert (notification["state"], notification["provider"], notification["attempts"]) == ("sent", "ses", 1)
    [item] = stack.send_guards()
    assert item["guard"]["S"] == "done"


def test_R8_an_earlier_senders_item_without_a_live_guard_is_claimed_and_sent_once(
    client: EventApiClient, sender: SenderDriver, stack: Stack, status: StatusApiClient
) -> None:
    """The earlier sender failed before the provider got it (Powertools deleted its guard): the item it left is
    claimed like a released one, and the notification is sent once, by one of two copies."""
    request_id = client.post(welcome(), key="legacy-released").json()["request_id"]
    [message] = stack.queued_messages()
    as_the_earlier_sender_left_it(stack, message, "COMPLETED")
    ddb = stack.session.client("dynamodb")
    ddb.delete_item(
        TableName=stack.resources.tables["IdempotencyTable"], Key={"id": {"S": send_guard_id(message["msg_id"])}}
    )
    sender.requeue(message)

    sender.drain()

    assert len(sent_emails()) == 1
    notification = shown(status, request_id)
    assert (notification["state"], notification["attempts"]) == ("sent", 2)


def test_R8_the_guard_outlives_a_key_longer_than_the_delivery_logs_retention(
    client: EventApiClient, sender: SenderDriver, stack: Stack
) -> None:
    """A key kept 200 days: a copy queued again by a retry on its last day still finds the item, which lives until
    the key's expiry plus the queue's retention (past the delivery log's 30 days)."""
    expiry = int(time.time()) + 200 * DAY
    client.post(welcome(), key="long-key", headers={"x-idempotency-expiration": str(expiry * 1000)})
    [message] = stack.queued_messages()

    sender.drain()

    [item] = stack.send_guards()
    assert int(item["expires_at"]["N"]) >= message["dedupe_until"] + 345_600 >= expiry + 345_600


def test_C4_a_cancel_finds_a_held_claim_already_sent_and_a_released_one_cancelled(
    stack: Stack, status: StatusApiClient
) -> None:
    """A step's email is being delivered (its item held); its SMS failed before the provider got it (released): the
    cancel answers the email `already_sent` and cancels the SMS, whose next copy sends nothing and reports nothing."""
    run = trigger(stack, "held-released", "held-released")
    step_2 = step_msg_ids(run, 2)
    bodies = {body["channel"]: body for body in stack.queued_messages() if body["msg_id"] in step_2}
    email, sms = bodies["email"], bodies["sms"]
    claim_delivery(
        email["request_id"],
        email["msg_id"],
        token="another-sender",
        channel="email",
        destination=mask_destination(email["destination"]),
        now="2026-12-07T00:00:00.000Z",
        expires_at=int(time.time()) + DAY,
    )
    providers = load_function("sender").providers()
    suppressions = stack.resources.tables["SuppressionsTable"]

    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    with fail_call("dynamodb", "BatchGetItem", table=suppressions, action=unreachable):
        try:
            send_notification(read_message(json.dumps(sms), "m"), 1, providers)
        except Exception as exc:  # RetryLater: SQS would redeliver it
            assert type(exc).__name__ == "RetryLater"

    decided = cancel_client(stack).post({"cancellation_key": "held-released"}, key="cancel-held-released").json()
    send_notification(read_message(json.dumps(sms), "m"), 2, providers)

    assert {c["msg_id"] for c in decided["already_sent"]} >= {email["msg_id"]}
    assert sms["msg_id"] in {c["msg_id"] for c in decided["cancelled"]}
    assert sent_sms() == []
    states = {n["msg_id"]: n["state"] for n in status.get(run["request_id"]).json()["notifications"]}
    assert (states[email["msg_id"]], states[sms["msg_id"]]) == ("queued", "cancelled")


def test_R8_two_copies_of_a_redriven_unknown_notification_send_it_exactly_once_more(
    client: EventApiClient, sender: SenderDriver, stack: Stack, status: StatusApiClient
) -> None:
    """The redrive releases the item's guard: of two copies of the redriven message, one claims it and sends."""
    from notify.logic.redrive import RedriveTargets, redrive_notifications

    request_id = client.post(welcome(), key="redrive-twice").json()["request_id"]
    [message] = stack.queued_messages()
    as_the_earlier_sender_left_it(stack, message, "COMPLETED", {"state": "unknown", "reason": "timeout"})
    sender.drain()  # the copy finds the earlier sender's `unknown`
    assert (shown(status, request_id)["state"], sent_emails()) == ("unknown", [])
    targets = RedriveTargets(
        stack.resources.tables["DeliveryLogTable"],
        stack.resources.tables["IdempotencyTable"],
        stack.queue_url,
    )

    [redriven] = redrive_notifications(targets, request_id)
    sender.requeue(message)  # a stray copy besides the one the redrive queued
    sender.drain()

    assert redriven.queued
    assert len(sent_emails()) == 1
    assert shown(status, request_id)["state"] == "sent"


def test_R8_a_dead_lettered_notification_never_claimed_keeps_its_item_as_long_as_a_claimed_one(
    client: EventApiClient, sender: SenderDriver, stack: Stack, status: StatusApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the queue's last receive, a message never started (no time left) is recorded `failed` in one write that
    creates its item: released (a later copy may still send it), and expiring no sooner than a claimed item."""
    from notify.logic import budget
    from notify.logic.sender import NotStarted

    request_id = client.post(welcome(), key="dead-lettered-unclaimed").json()["request_id"]
    [message] = stack.queued_messages()
    monkeypatch.setattr(budget, "can_start_message", lambda: False)
    providers = load_function("sender").providers()

    with pytest.raises(NotStarted):
        send_notification(read_message(json.dumps(message), "m"), 5, providers)

    notification = shown(status, request_id)
    assert (notification["state"], notification["attempts"]) == ("failed", 1)
    [item] = stack.send_guards()
    assert item["guard"]["S"] == "released"
    assert int(item["expires_at"]["N"]) >= max(message["dedupe_until"] + 345_600, int(time.time()) + 30 * DAY - 60)
