"""Cancelling delayed automation steps, idempotently (docs/contract.md C1-C6)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from local.moto_backend import dynamodb_writes_serialised
from notify.dal.cancellations import CANCELLED_REASON
from notify.dal.definitions import put_automation
from notify.logic.reports import webhook_id
from notify.logic.sender import read_message, send_notification
from notify.models.definitions import AutomationDefinition
from tests.support.calls import aws_calls
from tests.support.clients import AutomationApiClient, StatusApiClient
from tests.support.reports import Receiver, ReporterDriver, add_endpoint
from tests.support.sender import SenderDriver
from tests.support.stack import Stack, load_function, sent_emails, sent_sms

PAYLOAD = {"email": "a@example.com", "name": "A", "phone": "+14155550100", "order": {"id": "1", "amount": "2"}}


def cancel_client(stack: Stack, automation_id: str = "onboarding") -> AutomationApiClient:
    api = AutomationApiClient(stack.workspaces[0], automation_id)
    api.route = f"automation/{automation_id}/cancel"
    return api


def trigger(stack: Stack, key: str | None, cancellation_key: str | None, payload: dict[str, Any] = PAYLOAD) -> Any:
    headers = {"Cancellation-Key": cancellation_key} if cancellation_key is not None else {}
    answer = AutomationApiClient(stack.workspaces[0]).post(payload, key=key, headers=headers)
    assert answer.status == 202, answer.body
    return answer.json()


def step_msg_ids(run: dict[str, Any], step: int) -> set[str]:
    return {receipt["msg_id"] for receipt in run["steps"][step - 1]["response"].values()}


def deliver_delayed(stack: Stack, msg_ids: set[str]) -> None:
    """The delayed messages arrive (their SQS delay passed): the sender handles each copy once."""
    providers = load_function("sender").providers()
    for body in stack.queued_messages():
        if body["msg_id"] in msg_ids:
            send_notification(read_message(json.dumps(body), "m"), 1, providers)


def test_C1_a_cancel_stops_the_delayed_step_and_reports_the_one_already_sent(
    stack: Stack, sender: SenderDriver, status: StatusApiClient
) -> None:
    run = trigger(stack, "run-1", "order-1")
    sender.drain()  # step 1 (no delay) is sent; step 2 waits 60 s in the queue
    assert len(sent_emails()) == 1

    answer = cancel_client(stack).post({"cancellation_key": "order-1"}, key="cancel-1")

    assert answer.status == 200
    body = answer.json()
    assert {(c["request_id"], c["step"]) for c in body["cancelled"]} == {(run["request_id"], 2)}
    assert {c["msg_id"] for c in body["cancelled"]} == step_msg_ids(run, 2)
    assert [(c["step"], c["msg_id"]) for c in body["already_sent"]] == [(1, m) for m in step_msg_ids(run, 1)]
    deliver_delayed(stack, step_msg_ids(run, 2))
    assert len(sent_emails()) == 1 and sent_sms() == []
    states = {n["msg_id"]: n["state"] for n in status.get(run["request_id"]).json()["notifications"]}
    assert {states[m] for m in step_msg_ids(run, 2)} == {"cancelled"}
    assert {states[m] for m in step_msg_ids(run, 1)} == {"sent"}


def test_C3_the_cancel_is_idempotent_its_answer_stored_and_replayed(
    stack: Stack, sender: SenderDriver, status: StatusApiClient
) -> None:
    trigger(stack, "run-2", "order-2")
    first = cancel_client(stack).post({"cancellation_key": "order-2"}, key="cancel-2")
    again = cancel_client(stack).post({"cancellation_key": "order-2"}, key="cancel-2")

    assert again.body == first.body
    assert again.headers["idempotency-replayed"] == "true"
    assert status.lookup("cancel", "cancel-2").json()["response"] == first.json()
    # Another key runs the cancel again: everything is decided, nothing is cancelled twice.
    other = cancel_client(stack).post({"cancellation_key": "order-2"}, key="cancel-2b").json()
    assert other["cancelled"] == [] and {c["msg_id"] for c in other["already_sent"]} == {
        c["msg_id"] for c in first.json()["cancelled"]
    }


def test_C5_an_unknown_key_answers_200_with_empty_lists_and_is_stored(stack: Stack, status: StatusApiClient) -> None:
    answer = cancel_client(stack).post({"cancellation_key": "nothing-here"}, key="cancel-nothing")

    assert (answer.status, answer.json()) == (200, {"cancelled": [], "already_sent": []})
    trigger(stack, "run-later", "nothing-here")
    replay = cancel_client(stack).post({"cancellation_key": "nothing-here"}, key="cancel-nothing")
    assert replay.body == answer.body and replay.headers["idempotency-replayed"] == "true"


def test_C5_another_workspace_or_automation_cannot_cancel_a_run(stack: Stack) -> None:
    trigger(stack, "run-3", "order-3")
    theirs = AutomationApiClient(stack.workspaces[1])
    theirs.route = "automation/onboarding/cancel"

    assert theirs.post({"cancellation_key": "order-3"}, key="x").json()["cancelled"] == []
    assert cancel_client(stack, "other").post({"cancellation_key": "order-3"}, key="y").json()["cancelled"] == []
    assert len(cancel_client(stack).post({"cancellation_key": "order-3"}, key="z").json()["cancelled"]) == 3


def test_C6_recipients_narrow_the_cancel_to_their_runs(stack: Stack) -> None:
    trigger(stack, "run-a", "campaign", {**PAYLOAD, "email": "a@example.com"})
    run_b = trigger(stack, "run-b", "campaign", {**PAYLOAD, "email": "b@example.com"})

    answer = cancel_client(stack).post({"cancellation_key": "campaign", "recipients": ["B@example.com"]}, key="c")

    assert {c["request_id"] for c in answer.json()["cancelled"]} == {run_b["request_id"]}


def test_C2_a_cancellation_key_past_256_characters_is_400_and_stores_nothing(stack: Stack) -> None:
    api = AutomationApiClient(stack.workspaces[0])
    long_key = api.post(PAYLOAD, key="too-long", headers={"Cancellation-Key": "k" * 257})
    assert long_key.status == 400
    assert long_key.json()["errors"] == [{"field": "Cancellation-Key", "message": "must be at most 256 characters"}]
    assert api.post(PAYLOAD, key="too-long", headers={"Cancellation-Key": "k" * 256}).status == 202
    assert cancel_client(stack).post({"cancellation_key": "k" * 257}, key="c-long").status == 400
    assert cancel_client(stack).post({"recipients": ["a@example.com"]}, key="c-missing").status == 400


def test_C2_a_run_without_a_cancellation_key_is_never_cancelled(stack: Stack) -> None:
    trigger(stack, "plain", None)
    assert cancel_client(stack).post({"cancellation_key": "plain"}, key="c-plain").json()["cancelled"] == []


def test_C1_a_cancel_of_one_run_costs_one_query_and_one_write_per_step(stack: Stack) -> None:
    trigger(stack, "run-cost", "cost")
    with aws_calls() as calls:
        cancel_client(stack).post({"cancellation_key": "cost"}, key="c-cost")

    # Authentication is cached; the cancel's own key: claim and completion. Then one Query, one write a step.
    assert calls.count("Query") == 1
    assert calls.count("TransactWriteItems") == 2
    assert calls == ["PutItem", "Query", "TransactWriteItems", "TransactWriteItems", "UpdateItem"]


@pytest.mark.parametrize("round_", range(40))
def test_C4_a_cancel_racing_the_sender_either_cancels_or_sends_each_step_never_both_never_neither(
    stack: Stack, sender: SenderDriver, status: StatusApiClient, round_: int
) -> None:
    run = trigger(stack, f"race-{round_}", f"race-{round_}")
    step_2 = step_msg_ids(run, 2)
    answers: dict[str, Any] = {}
    providers = load_function("sender").providers()
    bodies = [body for body in stack.queued_messages() if body["msg_id"] in step_2]

    def cancel() -> None:
        answers["cancel"] = cancel_client(stack).post({"cancellation_key": f"race-{round_}"}, key=f"c-{round_}")

    def send() -> None:
        # Each round starts the sender a little later, so the cancel wins some steps and the sender others.
        time.sleep((round_ % 8) * 0.004)
        for body in bodies:
            send_notification(read_message(json.dumps(body), "m"), 1, providers)

    with dynamodb_writes_serialised():
        threads = [threading.Thread(target=cancel), threading.Thread(target=send)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        deliver_delayed(stack, step_2)  # every later copy too

    decided = answers["cancel"].json()
    cancelled = {c["msg_id"] for c in decided["cancelled"]}
    already = {c["msg_id"] for c in decided["already_sent"]}
    states = {n["msg_id"]: n["state"] for n in status.get(run["request_id"]).json()["notifications"]}
    for msg_id in step_2:
        assert (msg_id in cancelled) != (msg_id in already)  # decided once, either way
        assert states[msg_id] == ("cancelled" if msg_id in cancelled else "sent")
    sent_count = len(sent_emails()) + len(sent_sms())
    assert sent_count == len(step_2 & already)


def test_C1_a_cancelled_step_with_a_callback_is_reported_cancelled_once(
    stack: Stack, sender: SenderDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cancel queues the report of each notification it cancelled; the delayed copy that later finds the
    cancel's guard records `cancelled` again but queues no second report."""
    reporter = ReporterDriver(stack, monkeypatch)
    receiver = Receiver()
    try:
        add_endpoint(stack.workspaces[0].workspace, "crm", receiver.url, default=True)
        step = {
            "event": "Welcome_Email",
            "to": {"email": "email"},
            "data": "{name: name}",
            "callback": "{custom_id: order.id}",
            "delay_seconds": 60,
        }
        put_automation(
            stack.workspaces[0].workspace, AutomationDefinition.model_validate({"id": "reminder", "steps": [step]})
        )
        answer = AutomationApiClient(stack.workspaces[0], "reminder").post(
            PAYLOAD, key="run-r", headers={"Cancellation-Key": "order-1"}
        )
        assert answer.status == 202, answer.body
        run = answer.json()
        [msg_id] = step_msg_ids(run, 1)

        cancelled = cancel_client(stack, "reminder").post({"cancellation_key": "order-1"}, key="cancel-r")
        assert [c["msg_id"] for c in cancelled.json()["cancelled"]] == [msg_id]
        deliver_delayed(stack, {msg_id})
        assert sent_emails() == []

        [queued] = reporter.queued()
        assert queued["webhook_id"] == webhook_id(msg_id, "cancelled")
        assert reporter.run_once() == 1
        [report] = receiver.received
        body = report.json()
        assert (body["custom_id"], body["msg_id"], body["request_id"], body["status"], body["channel"]) == (
            "1",
            msg_id,
            run["request_id"],
            "cancelled",
            "email",
        )
        assert body["reason"] == CANCELLED_REASON and body["destination"] != PAYLOAD["email"]
    finally:
        receiver.close()
