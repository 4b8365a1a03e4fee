"""Status route GET /v1/{workspace}/{version}/request/{request_id} (docs/contract.md sections 2 and 4)."""

from __future__ import annotations

import uuid

from tests.unit.conftest import EventApiClient, SenderDriver, Stack, StatusApiClient, welcome


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


def test_R3_failed_request_record_is_a_stored_500_and_nothing_is_queued(
    stack: Stack, client: EventApiClient, sender: SenderDriver
) -> None:
    stack.session.client("dynamodb").delete_table(TableName=stack.resources.tables["DeliveryLogTable"])

    first = client.post(welcome(), key="no-log-1")
    replay = client.post(welcome(), key="no-log-1")

    assert first.status == 500
    assert first.json()["_message"] == "The notification could not be queued"
    assert (replay.status, replay.body, replay.headers["idempotency-replayed"]) == (500, first.body, "true")
    assert sender.queue_depth() == 0
