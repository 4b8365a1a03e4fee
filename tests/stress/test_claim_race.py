"""Stress: copies of one message raced for its msg_id claim (R8, issue 25).

The msg_id guard is the notification's delivery item: the claim is a conditional PutItem (or, for a released item,
a conditional UpdateItem) that answers with the item holding it (ALL_OLD). Two races:
- on DynamoDB Local (the local stack with LOCAL_DYNAMODB=dynamodb-local), where the condition and the ALL_OLD answer
  are DynamoDB's own, not moto's emulation: 20 copies of each message queued at once, handed to the stack's sender
  in batches, some copies while another is held;
- in process, with moto's DynamoDB writes serialised (as DynamoDB applies writes to one item), eight sender threads
  started together on copies of one message, a third of them on a message whose item a transient failure released.
Exactly one provider call per msg_id must follow.
"""

from __future__ import annotations

import functools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local.moto_backend import dynamodb_writes_serialised
from tests.support.clients import EventApiClient, StatusApiClient, welcome
from tests.support.local_stack import WORKSPACE_1, LocalStackProcess, emails_to, on_dynamodb_local, wait_for
from tests.support.sender import SenderDriver
from tests.support.stack import Stack, load_function, sent_emails

pytestmark = pytest.mark.stress

ROUNDS = 10
COPIES = 20
REGION = "us-east-1"


@pytest.fixture(scope="module")
def atomic_stack() -> Iterator[tuple[LocalStackProcess, Any]]:
    with on_dynamodb_local() as (started, endpoint):
        yield started, boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)


def message(address: str) -> dict[str, Any]:
    """A notification as the Event API queues it (the sender needs no more: it never reads the request)."""
    return {
        "msg_id": str(uuid.uuid4()),
        "request_id": str(uuid.uuid4()),
        "workspace": WORKSPACE_1,
        "version": "live",
        "event": "Welcome_Email",
        "channel": "email",
        "destination": address,
        "data": {"name": "Race"},
        "dedupe_until": int(time.time()) + 86_400,
    }


def queue_copies(stack: LocalStackProcess, body: dict[str, Any]) -> None:
    sqs = stack.client("sqs")
    url = stack.queue_url("NotificationQueue")
    text = json.dumps(body)
    for batch in range(COPIES // 10):
        entries = [{"Id": f"c{batch}-{n}", "MessageBody": text} for n in range(10)]
        assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")


def delivery_item(dynamodb: Any, body: dict[str, Any]) -> dict[str, Any] | None:
    key = {"request_id": {"S": body["request_id"]}, "msg_id": {"S": body["msg_id"]}}
    item: dict[str, Any] | None = dynamodb.get_item(TableName="DeliveryLogTable", Key=key, ConsistentRead=True).get(
        "Item"
    )
    return item


def test_R8_twenty_copies_of_one_message_raced_by_the_senders_are_sent_once(
    atomic_stack: tuple[LocalStackProcess, Any],
) -> None:
    stack, dynamodb = atomic_stack
    bodies = [message(f"race-{round_}-{uuid.uuid4().hex[:6]}@example.com") for round_ in range(ROUNDS)]
    for body in bodies:
        queue_copies(stack, body)

    def done(body: dict[str, Any]) -> dict[str, Any] | None:
        found = delivery_item(dynamodb, body)
        return found if found is not None and found.get("guard", {}).get("S") == "done" else None

    for body in bodies:
        item = wait_for(functools.partial(done, body), timeout=60, message="the copies to be delivered")
        assert item is not None
        assert item["state"]["S"] == "sent"
        assert item["attempts"]["N"] == "1"  # one claim won; every other copy found it held or done
    time.sleep(1)  # copies still being retried (they found the claim held) have nothing more to send
    for body in bodies:
        assert len(emails_to(stack, body["destination"])) == 1


SENDERS = 8


@pytest.mark.parametrize("round_", range(12))
def test_R8_eight_senders_started_together_on_one_message_call_the_provider_once(
    stack: Stack, sender: SenderDriver, status: StatusApiClient, round_: int
) -> None:
    from notify.logic.sender import RetryLater, read_message, send_notification

    EventApiClient(stack.workspaces[0]).post(welcome(f"race-{round_}@example.com"), key=f"race-{round_}")
    [body] = stack.queued_messages()
    providers = load_function("sender").providers()
    if round_ % 3 == 2:
        # An earlier copy failed before the provider got it: the item is there, released (claimed by an update).
        from botocore.exceptions import EndpointConnectionError

        from tests.support.faults import fail_call

        def unreachable(**_: Any) -> None:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

        suppressions = stack.resources.tables["SuppressionsTable"]
        with fail_call("dynamodb", "BatchGetItem", table=suppressions, action=unreachable), pytest.raises(RetryLater):
            send_notification(read_message(json.dumps(body), "m"), 1, providers)
    start = threading.Barrier(SENDERS)
    outcomes: list[str] = []

    def send() -> None:
        start.wait()
        try:
            outcomes.append(send_notification(read_message(json.dumps(body), "m"), 2, providers).state.value)
        except RetryLater:
            outcomes.append("retry later")  # another copy held the claim at that moment

    with dynamodb_writes_serialised():
        threads = [threading.Thread(target=send) for _ in range(SENDERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert len(sent_emails()) == 1
    assert outcomes.count("sent") == 1, outcomes
    [shown] = status.get(body["request_id"]).json()["notifications"]
    assert shown["state"] == "sent"
