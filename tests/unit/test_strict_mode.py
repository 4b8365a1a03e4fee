"""Strict mode per workspace (docs/contract.md M1-M4): a key reused with a different body is a 422 there, and
replays in the default mode (R4); the body's fingerprint is kept from the first request on, in both modes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.container import reset_container_state
from notify.dal.clients import client as aws_client
from notify_admin import cli as admin
from tests.support.clients import AutomationApiClient, BulkApiClient, EventApiClient, StatusApiClient, welcome
from tests.support.faults import fail_call
from tests.support.stack import Stack

REUSED = {"_message": "Idempotency-Key reused with a different request", "status": "error"}


def set_mode(deployed: str, mode: str, workspace: str = "WSLOCAL0001") -> None:
    assert admin.run(["--stack-name", deployed, "set-idempotency-mode", "--workspace", workspace, "--mode", mode]) == 0


def test_M1_strict_mode_answers_a_changed_body_422_and_leaves_the_stored_answer(
    deployed: str, client: EventApiClient, status: StatusApiClient, capsys: pytest.CaptureFixture
) -> None:
    set_mode(deployed, "strict")
    assert "WSLOCAL0001: idempotency mode strict" in capsys.readouterr().out
    first = client.post(welcome(), key="strict-1")
    assert first.status == 202

    changed = client.post(welcome(name="Somebody else"), key="strict-1")

    assert changed.status == 422
    assert changed.json() == REUSED
    assert "idempotency-replayed" not in changed.headers
    assert status.lookup("event", "strict-1").json()["response"] == first.json()
    replay = client.post(welcome(), key="strict-1")
    assert (replay.status, replay.body, replay.headers["idempotency-replayed"]) == (202, first.body, "true")


def test_M1_strict_mode_refuses_a_changed_body_from_a_warm_containers_cache_too(
    deployed: str, client: EventApiClient
) -> None:
    set_mode(deployed, "strict")
    client.post(welcome(), key="cached")
    client.post(welcome(), key="cached")  # the replay puts the record in the container's cache
    assert client.post(welcome(name="Other"), key="cached").status == 422


def test_M2_the_same_body_with_its_keys_in_another_order_and_other_whitespace_replays(
    deployed: str, client: EventApiClient
) -> None:
    set_mode(deployed, "strict")
    body = {"event": "Welcome_Email", "to": {"email": "a@example.com"}, "data": {"name": "A", "city": "Pune"}}
    first = client.post(body, key="reordered")

    reordered = '{ "data" : {"city":"Pune","name":"A"},\n "to": {"email": "a@example.com"}, "event": "Welcome_Email" }'
    replay = client.post(key="reordered", raw_body=reordered)

    assert replay.status == 202
    assert replay.body == first.body
    assert replay.headers["idempotency-replayed"] == "true"


def test_M3_replay_mode_is_the_default_and_replays_a_changed_body(deployed: str, client: EventApiClient) -> None:
    first = client.post(welcome(), key="replay-mode")
    changed = client.post(welcome(name="Other"), key="replay-mode")
    assert (changed.status, changed.body, changed.headers["idempotency-replayed"]) == (202, first.body, "true")

    set_mode(deployed, "strict")
    set_mode(deployed, "replay")
    assert client.post(welcome(name="Other"), key="replay-mode").body == first.body


def test_M2_the_fingerprint_is_kept_from_the_first_request_so_switching_to_strict_needs_no_migration(
    deployed: str, client: EventApiClient, stack: Stack
) -> None:
    first = client.post(welcome(), key="before-strict")  # in replay mode
    items = [item for item in stack.idempotency_items() if item["id"]["S"].startswith("event#")]
    assert [item["validation"]["S"].startswith("json:") for item in items] == [True]

    set_mode(deployed, "strict")

    assert client.post(welcome(name="Other"), key="before-strict").status == 422
    assert client.post(welcome(), key="before-strict").body == first.body


def test_M1_strict_mode_is_per_workspace(deployed: str, stack: Stack) -> None:
    set_mode(deployed, "strict", "WSLOCAL0002")
    mine, theirs = EventApiClient(stack.workspaces[0]), EventApiClient(stack.workspaces[1])
    mine.post(welcome(), key="per-ws")
    theirs.post(welcome(), key="per-ws")

    assert mine.post(welcome(name="Other"), key="per-ws").status == 202
    assert theirs.post(welcome(name="Other"), key="per-ws").status == 422


@pytest.mark.parametrize(
    ("api", "body", "changed"),
    [
        (
            BulkApiClient,
            {"event": "Welcome_Email", "batch": [welcome()]},
            {"event": "Welcome_Email", "batch": [welcome("b@example.com")]},
        ),
        (
            AutomationApiClient,
            {"email": "a@example.com", "name": "A", "phone": "+14155550100", "order": {"id": "1", "amount": "2"}},
            {"email": "b@example.com", "name": "A", "phone": "+14155550100", "order": {"id": "1", "amount": "2"}},
        ),
    ],
)
def test_M1_strict_mode_holds_on_bulk_and_automation(
    deployed: str, stack: Stack, api: Any, body: Any, changed: Any
) -> None:
    set_mode(deployed, "strict")
    caller = api(stack.workspaces[0])
    first = caller.post(body, key="strict-apis")
    assert first.status == 202
    assert caller.post(changed, key="strict-apis").status == 422
    assert caller.post(json.loads(json.dumps(body, sort_keys=True)), key="strict-apis").body == first.body


def test_M1_a_request_refused_in_strict_mode_is_never_executed_or_queued(
    deployed: str, client: EventApiClient, stack: Stack
) -> None:
    set_mode(deployed, "strict")
    client.post(welcome(), key="not-queued")
    queued = len(stack.queued_messages())
    items = stack.idempotency_items()

    assert client.post(welcome("other@example.com"), key="not-queued").status == 422

    assert len(stack.queued_messages()) == queued
    assert stack.idempotency_items() == items


def test_M4_a_replay_of_the_same_body_reads_no_mode_and_costs_no_more(deployed: str, client: EventApiClient) -> None:
    set_mode(deployed, "strict")
    client.post(welcome(), key="cost")
    reset_container_state()  # a cold container: the replay's claim is its only call besides authentication
    calls: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params.get("TableName", "")))

    events = aws_client("dynamodb").meta.events
    events.register("before-parameter-build.dynamodb", record, unique_id="strict-cost")
    try:
        client.post(welcome(), key="cost")
        client.post(welcome(name="Other"), key="cost")
    finally:
        events.unregister("before-parameter-build.dynamodb", unique_id="strict-cost")

    definitions = [c for c in calls if "Definitions" in c[1]]
    # The same body: authentication and the claim only. The changed body: the mode, read once.
    assert calls[:2] == [("GetItem", calls[0][1]), ("PutItem", calls[1][1])]
    assert len(definitions) == 1


def test_M1_the_422_is_not_a_stored_answer_and_a_lookup_still_shows_the_first(
    deployed: str, client: EventApiClient, status: StatusApiClient
) -> None:
    set_mode(deployed, "strict")
    first = client.post(welcome(), key="lookup-after-422")
    for _ in range(2):
        assert client.post(welcome(name="X"), key="lookup-after-422").status == 422
    body = status.lookup("event", "lookup-after-422").json()
    assert (body["status_code"], body["response"]) == (202, first.json())


def test_M1_an_unreachable_mode_is_503_and_changes_nothing(deployed: str, client: EventApiClient, stack: Stack) -> None:
    first = client.post(welcome(), key="mode-down")
    items = stack.idempotency_items()
    with fail_call("dynamodb", "GetItem", table=stack.resources.tables["DefinitionsTable"]) as failed:
        answer = client.post(welcome(name="Other"), key="mode-down")
    assert failed

    assert answer.status == 503
    assert answer.headers["retry-after"] == "2"
    assert stack.idempotency_items() == items
    assert client.post(welcome(name="Other"), key="mode-down").body == first.body


def test_M2_a_remembered_fingerprint_is_the_one_computed() -> None:
    """A small body's fingerprint is remembered per container (issue 25): the same body, reformatted JSON and a
    body past the remembered size all get what the computation gives."""
    from notify.logic import idempotency

    body = '{"event": "Welcome", "to": {"email": "a@example.com"}}'
    reformatted = '{"to":{"email":"a@example.com"},"event":"Welcome"}'
    large = '{"data": "' + "x" * (idempotency._FINGERPRINTED_BODY_BYTES + 1) + '"}'
    for each in (body, reformatted, large, "not json", b"\xff\xfe"):
        assert idempotency.request_fingerprint(each) == idempotency._fingerprint(each)
        assert idempotency.request_fingerprint(each) == idempotency._fingerprint(each)
    assert idempotency.request_fingerprint(body) == idempotency.request_fingerprint(reformatted)
    assert idempotency.request_fingerprint(body) != idempotency.request_fingerprint(large)
