"""Status route GET /v1/{workspace}/{version}/request/{request_id} (docs/contract.md sections 2 and 4)."""

from __future__ import annotations

import time
import uuid

import pytest

from notify.dal.delivery_log import count_attempt, record_outcome
from notify.logic.idempotency import IdempotencyOptions, RequestScope, derive_msg_id
from notify.models.delivery import DeliveryState
from tests.support.clients import (
    AutomationApiClient,
    BulkApiClient,
    EventApiClient,
    StatusApiClient,
    receipts_in,
    welcome,
)
from tests.support.sender import SenderDriver
from tests.support.stack import Stack


def order() -> dict[str, object]:
    return {
        "event": "OrderConfirmed",
        "to": {"email": "rahul@example.com", "sms": "+14155550123"},
        "data": {"name": "Rahul", "order_id": "A-1", "amount": "$3"},
    }


def test_accepted_request_shows_its_notifications_queued_before_any_sender_runs(
    client: EventApiClient, status: StatusApiClient
) -> None:
    accepted = client.post(order(), key="order-1").json()

    answer = status.get(accepted["request_id"])

    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["request_id"] == accepted["request_id"]
    assert (body["event"], body["version"], body["received_time"]) == (
        "OrderConfirmed",
        "live",
        accepted["received_time"],
    )
    by_channel = {n["channel"]: n for n in body["notifications"]}
    assert by_channel["email"] == {
        "msg_id": accepted["response"]["email"]["msg_id"],
        "channel": "email",
        "destination": "r***@example.com",
        "state": "queued",
        "attempts": 0,
        "provider": None,
        "provider_message_id": None,
        "reason": None,
        "queued_at": accepted["received_time"],
        "updated_at": None,
        "sent_at": None,
    }
    assert by_channel["sms"]["destination"] == "+1***23"
    assert "rahul@example.com" not in answer.body and "+14155550123" not in answer.body


def test_delivered_request_shows_sent_with_provider_ids(
    client: EventApiClient, sender: SenderDriver, status: StatusApiClient
) -> None:
    accepted = client.post(order()).json()
    sender.drain()

    body = status.get(accepted["request_id"]).json()

    for notification in body["notifications"]:
        assert notification["state"] == "sent"
        assert notification["attempts"] == 1
        assert notification["provider"] in {"ses", "sns"}
        assert notification["provider_message_id"]
        assert notification["sent_at"] == notification["updated_at"]


def test_unknown_or_malformed_request_id_is_404(status: StatusApiClient) -> None:
    for request_id in (str(uuid.uuid4()), "not-a-request-id"):
        answer = status.get(request_id)
        assert answer.status == 404
        assert answer.json() == {"_message": f"The request '{request_id}' does not exist", "status": "error"}


def test_another_workspaces_request_is_404(
    stack: Stack, client: EventApiClient, other_client: EventApiClient, status: StatusApiClient
) -> None:
    theirs = other_client.post(welcome()).json()["request_id"]
    other_status = StatusApiClient(stack.workspaces[1])

    assert status.get(theirs).status == 404
    assert other_status.get(theirs).status == 200
    # The other workspace's id in its own path, with this workspace's key: the key does not fit.
    assert status.get(theirs, workspace=stack.workspaces[1].workspace).status == 401


def test_other_versions_request_is_404(client: EventApiClient, status: StatusApiClient) -> None:
    live = client.post(welcome()).json()["request_id"]
    test = client.post(welcome(), version="test").json()["request_id"]

    assert status.get(live, version="test").status == 404
    assert status.get(test, version="live").status == 404
    assert status.get(test, version="test").status == 200


def test_status_needs_a_valid_api_key(client: EventApiClient, status: StatusApiClient) -> None:
    request_id = client.post(welcome()).json()["request_id"]

    for api_key in (None, "not-a-key"):
        answer = status.get(request_id, api_key=api_key)
        assert answer.status == 401
        assert answer.json() == {"_message": "Invalid API details", "status": "error"}
    assert status.get(request_id, version="beta").status == 404


def test_D6_a_delivery_log_that_cannot_be_written_is_a_503_never_a_202_the_status_route_cannot_find(
    stack: Stack, client: EventApiClient, sender: SenderDriver, status: StatusApiClient
) -> None:
    # A keyed request writes its manifest with its completion, after enqueueing: the transaction fails, the
    # manifest alone fails too, so the record is not completed and the client is told to retry (503). Its retry
    # re-executes with the same ids (R8), so the one queued notification is never sent twice.
    stack.session.client("dynamodb").delete_table(TableName=stack.resources.tables["DeliveryLogTable"])

    first = client.post(welcome(), key="no-log-1")

    assert first.status == 503
    assert "idempotency-replayed" not in first.headers
    [record] = [item for item in stack.idempotency_items() if item["id"]["S"].startswith("event#")]
    assert record["status"]["S"] == "INPROGRESS"
    assert sender.queue_depth() == 1


def test_an_unkeyed_request_whose_record_fails_is_a_500_and_nothing_is_queued(
    stack: Stack, client: EventApiClient, sender: SenderDriver
) -> None:
    # Without a key the manifest is written before enqueueing, as it always was.
    stack.session.client("dynamodb").delete_table(TableName=stack.resources.tables["DeliveryLogTable"])

    response = client.post(welcome())

    assert response.status == 500
    assert response.json()["_message"] == "The notification could not be queued"
    assert sender.queue_depth() == 0


# The status route shows a just-accepted request at once, for every API, keyed or not --------------


@pytest.mark.parametrize("key", ["shown-at-once", None])
def test_event_request_shows_queued_as_soon_as_it_is_accepted(
    client: EventApiClient, status: StatusApiClient, key: str | None
) -> None:
    accepted = client.post(order(), key=key).json()

    notifications = status.get(accepted["request_id"]).json()["notifications"]

    assert {(n["msg_id"], n["state"]) for n in notifications} == {
        (receipt["msg_id"], "queued") for receipt in receipts_in(accepted)
    }


@pytest.mark.parametrize(("key", "recipients"), [("bulk-shown", 3), ("bulk-shown-many", 150), (None, 3)])
def test_every_bulk_item_shows_queued_as_soon_as_the_bulk_is_accepted(
    bulk_client: BulkApiClient, status: StatusApiClient, key: str | None, recipients: int
) -> None:
    body = {"event": "Welcome_Email", "batch": [welcome(f"user{n}@example.com") for n in range(recipients)]}
    accepted = bulk_client.post(body, key=key).json()

    assert len(accepted["response"]) == recipients
    for item in accepted["response"]:
        answer = status.get(item["request_id"])
        assert answer.status == 200
        [notification] = answer.json()["notifications"]
        assert (notification["msg_id"], notification["state"]) == (item["email"]["msg_id"], "queued")
        # An item's id starts with its bulk's 8 bytes: how the status route finds the bulk's manifests.
        assert item["request_id"].replace("-", "")[:16] == accepted["request_id"].replace("-", "")[:16]


@pytest.mark.parametrize("key", ["automation-shown", None])
def test_automation_request_shows_queued_as_soon_as_it_is_accepted(
    automation_client: AutomationApiClient, status: StatusApiClient, key: str | None
) -> None:
    payload = {"email": "a@example.com", "phone": "+14155550100", "name": "A", "order": {"id": "1", "amount": "2"}}
    accepted = automation_client.post(payload, key=key).json()

    notifications = status.get(accepted["request_id"]).json()["notifications"]

    assert {(n["msg_id"], n["state"]) for n in notifications} == {
        (receipt["msg_id"], "queued") for receipt in receipts_in(accepted)
    }


def test_an_outcome_recorded_before_the_manifest_shows_once_the_request_is_accepted(
    stack: Stack, client: EventApiClient, status: StatusApiClient
) -> None:
    # A keyed request's manifest is written with its completion, after enqueueing, so a fast sender can
    # record an outcome first. Ids are deterministic (R8), so that order can be played here exactly.
    workspace = stack.workspaces[0].workspace
    scope = RequestScope(workspace, "event", "live", IdempotencyOptions(key="sender-first"))
    expiry = int(time.time()) + 2 * 24 * 3600  # the key's lifetime, which the request's ids derive from
    request_id = scope.request_id_in_lifetime(expiry)
    msg_id = derive_msg_id(request_id, 0, "email")
    now = "2026-01-01T00:00:00.000Z"
    count_attempt(request_id, msg_id, channel="email", destination="r***@example.com", now=now, expires_at=2**31)
    record_outcome(request_id, msg_id, state=DeliveryState.sent, updated_at=now, provider="ses")

    assert status.get(request_id).status == 404  # no manifest yet: the request is not shown half-known

    accepted = client.post(
        welcome(), key="sender-first", headers={"x-idempotency-expiration": str(expiry * 1000)}
    ).json()

    assert accepted["request_id"] == request_id
    [notification] = status.get(request_id).json()["notifications"]
    assert (notification["msg_id"], notification["state"], notification["provider"]) == (msg_id, "sent", "ses")
