"""The bench's AWS call counter sees the calls the product makes on its own clients (issue 6); its capacity meter
bills them as AWS would, and its hand-rolled baseline deduplicates (issue 25). Nothing here is timed."""

from __future__ import annotations

import json

import boto3

from bench.aws_calls import CallCounter
from bench.baseline import create_minimal_design
from bench.capacity import CapacityMeter, item_size, write_units
from notify.dal.clients import client as product_client
from tests.support.clients import EventApiClient, welcome
from tests.support.stack import Stack


def test_counter_counts_the_calls_of_a_new_keyed_event(client: EventApiClient, stack: Stack) -> None:
    counter = CallCounter()
    counter.hook_product_clients()
    client.post(welcome(), key="bench-smoke")  # fills the per-container key and definition caches
    counter.take()

    assert client.post(welcome(), key="bench-smoke-2").status == 202

    calls = counter.take()
    assert calls["dynamodb.PutItem[IdempotencyTable]"] == 1  # the claim
    # the completion, with the request manifest in the same transaction
    assert calls["dynamodb.TransactWriteItems[DeliveryLogTable,IdempotencyTable]"] == 1
    assert calls["sqs.SendMessageBatch"] == 1
    assert calls["dynamodb.BatchGetItem[SuppressionsTable]"] == 1  # the suppression check, every destination at once
    assert sum(calls.values()) == 4
    assert len(stack.queued_messages()) == 2
    assert counter.unhooked_clients() == 0


def test_counter_sees_no_call_on_a_warm_replay(client: EventApiClient) -> None:
    counter = CallCounter()
    counter.hook_product_clients()
    client.post(welcome(), key="bench-replay")
    counter.take()

    replay = client.post(welcome(), key="bench-replay")

    assert replay.headers["idempotency-replayed"] == "true"
    assert sum(counter.take().values()) == 0


def test_capacity_meter_bills_a_keyed_event_as_dynamodb_and_sqs_would(client: EventApiClient, stack: Stack) -> None:
    meter = CapacityMeter()
    meter.hook({"dynamodb": product_client("dynamodb"), "sqs": product_client("sqs")})
    client.post(welcome(), key="bench-units")  # fills the per-container key and definition caches
    meter.take()

    assert client.post(welcome(), key="bench-units-2").status == 202

    units = meter.take()
    # The claim (one unit: the record is under 1 KB), then the completion transaction: two units an item for
    # the record and the request manifest.
    assert units["dynamodb_write_units"] == {"IdempotencyTable": 1 + 2, "DeliveryLogTable": 2}
    # The suppression check at the door (S1): one strongly consistent read of a key that holds no entry, billed
    # the least a read costs.
    assert units["dynamodb_read_units"] == {"SuppressionsTable": 1.0}
    assert units["sqs_requests"] == {"SendMessageBatch": 1}
    assert 0 < units["sqs_payload_bytes"] < 64 * 1024


def test_item_size_follows_dynamodb_rules() -> None:
    # name bytes + value bytes; a number takes one byte per two significant digits, plus one
    assert item_size({"id": {"S": "abc"}}) == 2 + 3
    assert item_size({"n": {"N": "12345"}}) == 1 + 4
    assert item_size({"m": {"M": {"a": {"BOOL": True}}}}) == 1 + 3 + 1 + 1 + 1
    assert write_units(0, 1024) == 1
    assert write_units(1025, 10) == 2


def test_minimal_design_sends_once_per_key(stack: Stack) -> None:
    design = create_minimal_design("noreply@example.com")
    event = {"headers": {"idempotency-key": "k1"}, "body": json.dumps(welcome())}

    first = design.api_handler(event, None)
    again = design.api_handler(event, None)

    assert first["statusCode"] == again["statusCode"] == 202
    assert json.loads(first["body"]) == json.loads(again["body"])
    queued = boto3.client("sqs", region_name="us-east-1").receive_message(
        QueueUrl=design.queue_url, MaxNumberOfMessages=10
    )
    assert len(queued["Messages"]) == 1
