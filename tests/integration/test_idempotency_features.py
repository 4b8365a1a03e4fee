"""Idempotency beyond the anchors (docs/contract.md section 8) over real HTTP against `python -m local`: the key
lookup (K1-K4), strict mode (M1-M4) and the cancellation of delayed automation steps (C1-C6)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.local_stack import (
    API_KEY_2,
    WORKSPACE_1,
    WORKSPACE_2,
    HttpResult,
    LocalStackProcess,
    headers,
)

pytestmark = pytest.mark.integration


def welcome(email: str = "rahul@example.com", name: str = "Rahul") -> dict[str, Any]:
    return {"event": "Welcome_Email", "to": {"email": email}, "data": {"name": name}}


def lookup(stack: LocalStackProcess, api: str, key: str, **sent: str) -> HttpResult:
    return stack.call("GET", f"idempotency/{api}/{quote(key, safe='')}", **sent)


def test_K1_a_lookup_over_http_returns_the_posts_answer_as_json(local_stack: LocalStackProcess) -> None:
    key = f"lookup/{uuid.uuid4()} é"
    posted = local_stack.call("POST", "event", welcome(), key=key)
    assert posted.status == 202

    found = lookup(local_stack, "event", key)

    assert found.status == 200, found.text
    body = found.json()
    assert body["state"] == "completed" and body["status_code"] == 202
    assert body["response"] == posted.json()
    assert body["request_id"] == posted.json()["request_id"]
    # Looking up again changes nothing: the POST still replays its answer.
    again = local_stack.call("POST", "event", welcome(), key=key)
    assert again.body == posted.body and again.headers["idempotency-replayed"] == "true"


def test_K2_K3_K4_nothing_another_workspaces_key_and_an_unknown_api_are_404(local_stack: LocalStackProcess) -> None:
    key = f"lookup-{uuid.uuid4()}"
    local_stack.call("POST", "event", welcome(), key=key)

    assert lookup(local_stack, "event", f"never-{uuid.uuid4()}").status == 404
    assert lookup(local_stack, "event", key, workspace=WORKSPACE_2, api_key=API_KEY_2).status == 404
    assert lookup(local_stack, "sender", key).status == 404


def admin(local_stack: LocalStackProcess, *arguments: str) -> str:
    finished = local_stack.admin(*arguments)
    assert finished.returncode == 0, finished.stderr
    return finished.stdout


def test_M2_strict_mode_over_http_refuses_a_changed_body_and_replays_reordered_keys(
    local_stack: LocalStackProcess, tmp_path: Path
) -> None:
    # A workspace of its own: no other test's keys are refused, and no container has cached its mode yet.
    workspace = f"WSSTRICT{uuid.uuid4().int % 10**8:08d}"
    output = admin(local_stack, "create-key", "--workspace", workspace)
    api_key = next(line.split(":", 1)[1].strip() for line in output.splitlines() if line.startswith("api key:"))
    definitions = tmp_path / "events.json"
    definitions.write_text(json.dumps([{"name": "Welcome_Email", "channels": {"email": {"body": "Hi {{ name }}"}}}]))
    admin(local_stack, "load-definitions", str(definitions), "--workspace", workspace)
    admin(local_stack, "set-idempotency-mode", "--workspace", workspace, "--mode", "strict")
    key = f"strict-{uuid.uuid4()}"
    sent = {"workspace": workspace, "key": key, "api_key": api_key}

    first = local_stack.call("POST", "event", welcome(), **sent)
    changed = local_stack.call("POST", "event", welcome(name="x"), **sent)
    reordered = json.dumps(dict(reversed(list(welcome().items()))), indent=2)
    replay = local_stack.call("POST", "event", reordered, **sent)

    assert first.status == 202, first.text
    assert changed.status == 422
    assert changed.json() == {"_message": "Idempotency-Key reused with a different request", "status": "error"}
    assert replay.status == 202 and replay.body == first.body and replay.headers["idempotency-replayed"] == "true"
    assert lookup(local_stack, "event", key, workspace=workspace, api_key=api_key).json()["response"] == first.json()
    local_stack.drain_queue("NotificationQueue")


def test_C1_a_cancel_over_http_is_stored_replayed_and_the_status_route_shows_cancelled(
    local_stack: LocalStackProcess,
) -> None:
    cancellation_key = f"order-{uuid.uuid4()}"
    payload = {"email": "c1@example.com", "name": "C", "phone": "+14155550100", "order": {"id": "1", "amount": "2"}}
    run = local_stack.request(
        "POST",
        f"/v1/{WORKSPACE_1}/live/automation/onboarding/trigger",
        json.dumps(payload),
        {**headers(f"run-{uuid.uuid4()}"), "Cancellation-Key": cancellation_key},
    )
    assert run.status == 202, run.text
    msg_ids = {receipt["msg_id"] for step in run.json()["steps"] for receipt in step["response"].values()}
    key = f"cancel-{uuid.uuid4()}"

    cancel = local_stack.call("POST", "automation/onboarding/cancel", {"cancellation_key": cancellation_key}, key=key)
    replay = local_stack.call("POST", "automation/onboarding/cancel", {"cancellation_key": cancellation_key}, key=key)

    assert cancel.status == 200, cancel.text
    # The stack's senders are off: no notification was claimed, so every one is cancelled.
    assert {entry["msg_id"] for entry in cancel.json()["cancelled"]} == msg_ids
    assert cancel.json()["already_sent"] == []
    assert replay.body == cancel.body and replay.headers["idempotency-replayed"] == "true"
    assert lookup(local_stack, "cancel", key).json()["response"] == cancel.json()
    status = local_stack.call("GET", f"request/{run.json()['request_id']}")
    assert {n["state"] for n in status.json()["notifications"]} == {"cancelled"}
    unknown = local_stack.call("POST", "automation/onboarding/cancel", {"cancellation_key": f"none-{uuid.uuid4()}"})
    assert (unknown.status, unknown.json()) == (200, {"cancelled": [], "already_sent": []})
    local_stack.drain_queue("NotificationQueue")
