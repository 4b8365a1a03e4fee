"""The bench's AWS call counter sees the calls the product makes on its own clients (issue 6)."""

from __future__ import annotations

from bench.aws_calls import CallCounter
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
    assert sum(calls.values()) == 3
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
