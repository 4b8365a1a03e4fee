"""What the outbox counts itself (local/outbox/observed.py): replays per request, the sender's receives."""

from __future__ import annotations

import json

from local.outbox.observed import ReplayCounter, SenderReceives

REPLAYED = [("Content-Type", "application/json"), ("Idempotency-Replayed", "true")]


def test_only_replayed_answers_count_per_workspace_and_request_and_bulk_items_count_too() -> None:
    counter = ReplayCounter()
    event = json.dumps({"request_id": "r-1", "response": {"email": {"status": "ok"}}}).encode()
    bulk = json.dumps({"request_id": "b-1", "response": [{"seq": 1, "request_id": "b-1-1"}, {"seq": 2}]}).encode()

    counter.observe("WS1", [("Content-Type", "application/json")], event)  # the first execution: no replay
    counter.observe("WS1", REPLAYED, event)
    counter.observe("WS1", [("idempotency-replayed", "TRUE")], event)
    counter.observe("WS1", REPLAYED, bulk)
    counter.observe("WS1", REPLAYED, b"not json")
    counter.observe(None, REPLAYED, event)  # a route without a workspace

    assert counter.count("WS1", "r-1") == 2
    assert counter.count("WS2", "r-1") == 0
    assert (counter.count("WS1", "b-1"), counter.count("WS1", "b-1-1")) == (1, 1)


def test_each_receive_of_a_notification_is_kept_with_its_count_and_whether_it_went_back() -> None:
    receives = SenderReceives()
    record = {"messageId": "m-1", "body": json.dumps({"msg_id": "n-1"}), "attributes": {"ApproximateReceiveCount": "1"}}
    other = {"messageId": "m-2", "body": "not a notification", "attributes": {}}
    receives.observe([record, other], {"m-1"}, 1_800_000_000.0)
    again = {**record, "attributes": {"ApproximateReceiveCount": "2"}}
    receives.observe([again], set(), 1_800_000_030.5)

    first, second = receives.of("n-1")
    assert (first.receive_count, first.back_on_queue, first.at) == (1, True, "2027-01-15T08:00:00.000Z")
    assert (second.receive_count, second.back_on_queue, second.at) == (2, False, "2027-01-15T08:00:30.500Z")
    assert receives.of("m-2") == []
