"""Event Bulk API (docs/contract.md section 2): shapes, validation by seq, 1000 recipients, partial failures."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from notify.dal.clients import client as product_client
from tests.support.clients import BulkApiClient
from tests.support.faults import fail_call
from tests.support.stack import Stack

ORDER_DATA = {"name": "Ana", "order_id": "1", "amount": "2"}


def recipients(count: int, channel: str = "email") -> list[dict[str, Any]]:
    return [{"to": {channel: f"user{i}@example.com"}, "data": {"name": f"User {i}"}} for i in range(1, count + 1)]


def test_bulk_answer_has_the_fyno_shape_with_a_request_id_per_item(bulk_client: BulkApiClient, stack: Stack) -> None:
    body = {
        "event": "OrderConfirmed",
        "batch": [
            {"to": {"email": "a@example.com", "sms": "+14155550100"}, "data": ORDER_DATA},
            {
                "to": {"email": "b@example.com"},
                "distinct_id": "user-b",
                "data": ORDER_DATA,
                "callback": {"custom_id": 42},
            },
        ],
    }
    before = int(time.time() * 1000)
    response = bulk_client.post(body, key="bulk-shape")
    assert response.status == 202
    answer = response.json()
    assert set(answer) == {"event", "received_time", "request_id", "response"}
    assert answer["event"] == "OrderConfirmed"
    assert isinstance(answer["received_time"], int) and before <= answer["received_time"] <= time.time() * 1000
    uuid.UUID(answer["request_id"])
    first, second = answer["response"]
    assert first["seq"] == 1 and second["seq"] == 2
    assert set(first) == {"seq", "request_id", "email", "sms"} and set(second) == {"seq", "request_id", "email"}
    assert len({answer["request_id"], first["request_id"], second["request_id"]}) == 3
    assert first["sms"] == {"destination": "+14155550100", "msg_id": first["sms"]["msg_id"], "status": "ok"}

    messages = stack.queued_messages()
    assert len(messages) == 3
    by_msg_id = {message["msg_id"]: message for message in messages}
    assert by_msg_id[second["email"]["msg_id"]]["request_id"] == second["request_id"]
    assert by_msg_id[second["email"]["msg_id"]]["distinct_id"] == "user-b"
    assert by_msg_id[first["sms"]["msg_id"]]["data"] == ORDER_DATA


def test_one_invalid_item_rejects_the_whole_batch_naming_its_seq(bulk_client: BulkApiClient, stack: Stack) -> None:
    batch = recipients(5)
    batch[2] = {"to": {"email": "not-an-address"}}
    batch[4] = {"to": {"sms": "12345"}}
    response = bulk_client.post({"event": "OrderConfirmed", "batch": batch}, key="bulk-invalid")
    assert response.status == 400
    answer = response.json()
    assert answer["_message"].startswith("Invalid request body: batch item seq 3: to.email")
    assert [(e["seq"], e["field"]) for e in answer["errors"]] == [(3, "to.email"), (5, "to.sms")]
    assert stack.queued_messages() == [] and stack.idempotency_items() == []


def test_item_without_a_channel_of_the_event_is_named_by_seq(bulk_client: BulkApiClient, stack: Stack) -> None:
    batch = [{"to": {"email": "a@example.com"}}, {"to": {"sms": "+14155550100"}}]
    response = bulk_client.post({"event": "Welcome_Email", "batch": batch})
    assert response.status == 400
    assert response.json()["errors"] == [{"seq": 2, "field": "to", "message": "must include one of: email"}]
    assert stack.queued_messages() == []


@pytest.mark.parametrize(
    ("batch", "field"),
    [([], "batch"), (None, "batch"), ("x", "batch")],
    ids=["empty", "null", "not-a-list"],
)
def test_batch_must_be_a_list_of_1_to_1000(bulk_client: BulkApiClient, stack: Stack, batch: Any, field: str) -> None:
    response = bulk_client.post({"event": "Welcome_Email", "batch": batch})
    assert response.status == 400
    assert response.json()["errors"][0]["field"] == field


def test_1001_recipients_are_refused(bulk_client: BulkApiClient, stack: Stack) -> None:
    response = bulk_client.post({"event": "Welcome_Email", "batch": recipients(1001)})
    assert response.status == 400
    assert "at most 1000" in response.json()["errors"][0]["message"]


def test_1000_recipients_are_queued_in_100_batch_calls(bulk_client: BulkApiClient, stack: Stack) -> None:
    def count(**_: object) -> None:
        return None

    with fail_call("sqs", "SendMessageBatch", action=count) as calls:
        response = bulk_client.post({"event": "Welcome_Email", "batch": recipients(1000)}, key="thousand")
    assert response.status == 202
    items = response.json()["response"]
    assert [item["seq"] for item in items] == list(range(1, 1001))
    assert len({item["request_id"] for item in items}) == 1000
    assert all(item["email"]["status"] == "ok" for item in items)
    assert len(calls) == 100
    messages = stack.queued_messages()
    assert len(messages) == 1000
    assert {m["msg_id"] for m in messages} == {item["email"]["msg_id"] for item in items}


def refuse_batches_mentioning(marker: str) -> Any:
    """A before-call hook: SQS refuses every entry of a batch that carries `marker`; other batches go through."""

    def hook(params: dict[str, Any], **_: Any) -> Any:
        entries = json.loads(params["body"])["Entries"]
        if not any(marker in entry["MessageBody"] for entry in entries):
            return None
        failed = [
            {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "simulated"} for e in entries
        ]
        return AWSResponse("https://sqs.us-east-1.amazonaws.com/", 200, {}, None), {"Successful": [], "Failed": failed}

    return hook


def test_partial_enqueue_failure_is_reported_per_item_and_stored(bulk_client: BulkApiClient, stack: Stack) -> None:
    batch = recipients(25)
    batch[21]["to"]["email"] = "unlucky@example.com"  # seq 22 lands in the third SendMessageBatch (21-25)
    events = product_client("sqs").meta.events
    events.register("before-call.sqs.SendMessageBatch", refuse_batches_mentioning("unlucky@"), unique_id="refuse")
    try:
        response = bulk_client.post({"event": "Welcome_Email", "batch": batch}, key="partial")
    finally:
        events.unregister("before-call.sqs.SendMessageBatch", unique_id="refuse")
    assert response.status == 202
    statuses = {item["seq"]: item["email"]["status"] for item in response.json()["response"]}
    assert {seq for seq, status in statuses.items() if status == "error"} == {21, 22, 23, 24, 25}
    failed = response.json()["response"][21]["email"]
    assert failed["_message"] == "The notification could not be queued"
    assert len(stack.queued_messages()) == 20

    replay = bulk_client.post({"event": "Welcome_Email", "batch": batch}, key="partial")
    assert replay.body == response.body and replay.headers["idempotency-replayed"] == "true"
