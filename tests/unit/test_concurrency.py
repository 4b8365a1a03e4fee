"""Threads racing on one key, against a DynamoDB whose conditional writes are atomic (R4, R5, R8)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from local.container import import_function
from tests.support.clients import EventApiClient, HttpResult, welcome
from tests.support.faults import fail_call
from tests.support.stack import Stack

RACERS = 20


@pytest.mark.usefixtures("atomic_dynamodb")
def test_R5_racing_duplicates_execute_once_and_enqueue_one_message(client: EventApiClient, stack: Stack) -> None:
    start = threading.Barrier(RACERS)

    def slow_enqueue(**_: object) -> None:
        time.sleep(0.2)  # keep the winner executing while the others arrive

    # Lambda runs one request at a time per container: each racer is a container with its own handler
    # module (the shared package's state, such as the idempotency store and caches, is still shared).
    containers = [EventApiClient(client.workspace) for _ in range(RACERS)]
    for index, container in enumerate(containers):
        container.module = import_function("event_api", instance=f"_racer{index}")

    def race(index: int) -> HttpResult:
        start.wait()
        return containers[index].post(welcome(name=f"racer-{index}"), key="one-key")

    with fail_call("sqs", "SendMessageBatch", action=slow_enqueue), ThreadPoolExecutor(RACERS) as pool:
        results = list(pool.map(race, range(RACERS)))

    statuses = sorted(result.status for result in results)
    assert set(statuses) <= {202, 409}
    accepted_bodies = {result.body for result in results if result.status == 202}
    assert len(accepted_bodies) == 1, "every 202 carries the one stored body"
    executed = [r for r in results if r.status == 202 and "idempotency-replayed" not in r.headers]
    assert len(executed) == 1
    for conflict in (r for r in results if r.status == 409):
        assert conflict.headers["retry-after"] == "1"
    assert len(stack.queued_messages()) == 1

    # Whoever got a 409 retries and receives the stored answer.
    retry = client.post(welcome(), key="one-key")
    assert retry.body in accepted_bodies and retry.headers["idempotency-replayed"] == "true"
