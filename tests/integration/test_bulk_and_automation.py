"""The Event Bulk and Automations APIs' rules (docs/contract.md section 3) over real HTTP against `python -m local`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.local_stack import (
    API_KEY_1,
    API_KEY_2,
    QUEUE,
    ROOT,
    WORKSPACE_1,
    WORKSPACE_2,
    HttpResult,
    LocalStackProcess,
)

pytestmark = pytest.mark.integration


@dataclass
class Api:
    name: str
    route: str
    body: Callable[[str], Any]
    invalid: Any

    def post(
        self,
        stack: LocalStackProcess,
        body: Any,
        *,
        key: str | None = None,
        workspace: str = WORKSPACE_1,
        api_key: str = API_KEY_1,
        version: str = "live",
        headers: dict[str, str] | None = None,
        raw_body: str | None = None,
    ) -> HttpResult:
        sent = {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}", **(headers or {})}
        if key is not None:
            sent["Idempotency-Key"] = key
        payload = raw_body if raw_body is not None else json.dumps(body)
        return stack.request("POST", f"/v1/{workspace}/{version}/{self.route}", payload, sent)


BULK = Api(
    "bulk",
    "event/bulk",
    lambda email: {"event": "Welcome_Email", "batch": [{"to": {"email": email}, "data": {"name": "A"}}]},
    {"event": "Welcome_Email", "batch": [{"to": {"email": "a@example.com"}}, {"to": {"email": "nope"}}]},
)
AUTOMATION = Api(
    "automation",
    # Loaded by the `automation_without_delay` fixture: the seeded onboarding's delayed step would surface
    # on the queue in the middle of later tests.
    "automation/signup/trigger",
    lambda email: {"email": email, "name": "A", "order": {"id": "1", "amount": "2"}},
    {"name": "no email"},
)


@pytest.fixture(params=[BULK, AUTOMATION], ids=["bulk", "automation"])
def api(request: pytest.FixtureRequest) -> Api:
    return request.param


@pytest.fixture(scope="module")
def automation_without_delay(local_stack: LocalStackProcess, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Loads a one-step automation with the admin command, through the local stack's stack outputs."""
    definitions = tmp_path_factory.mktemp("definitions") / "signup.json"
    definitions.write_text(
        json.dumps({"automations": [{"id": "signup", "steps": [{"event": "Welcome_Email", "to": {"email": "email"}}]}]})
    )
    command = [
        sys.executable, "-m", "notify_admin", "--endpoint-url", local_stack.moto_url,
        "--stack-name", "idempotent-notify-local", "load-definitions", str(definitions), "--workspace", WORKSPACE_1,
    ]  # fmt: skip
    for workspace in (WORKSPACE_1, WORKSPACE_2):
        command[-1] = workspace
        done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
            command, env={**os.environ, "PYTHONPATH": str(ROOT / "layers")}, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr


@pytest.fixture
def stack(local_stack: LocalStackProcess, automation_without_delay: None) -> Iterator[LocalStackProcess]:
    local_stack.disarm_faults()
    local_stack.drain_queue(QUEUE)
    yield local_stack
    local_stack.disarm_faults()


def key() -> str:
    return f"it-{uuid.uuid4()}"


def stored_for(stack: LocalStackProcess, request_id: str) -> list[dict[str, Any]]:
    items = stack.client("dynamodb").scan(TableName="IdempotencyTable", ConsistentRead=True)["Items"]
    return [item for item in items if request_id in item.get("data", {}).get("S", "")]


def test_R1_blank_key_is_400(api: Api, stack: LocalStackProcess) -> None:
    assert api.post(stack, api.body("a@example.com"), key="   ").status == 400
    assert stack.drain_queue(QUEUE) == []


def test_R2_same_key_in_two_workspaces_executes_twice(api: Api, stack: LocalStackProcess) -> None:
    shared = key()
    mine = api.post(stack, api.body("a@example.com"), key=shared)
    theirs = api.post(stack, api.body("b@example.com"), key=shared, workspace=WORKSPACE_2, api_key=API_KEY_2)
    assert mine.status == theirs.status == 202
    assert "idempotency-replayed" not in theirs.headers
    assert mine.json()["request_id"] != theirs.json()["request_id"]


def test_R3_stored_5xx_replays(api: Api, stack: LocalStackProcess) -> None:
    shared = key()
    stack.arm_fault(service="sqs", operation="SendMessageBatch")
    first = api.post(stack, api.body("a@example.com"), key=shared)
    stack.disarm_faults()
    replay = api.post(stack, api.body("a@example.com"), key=shared)
    assert first.status == 500
    assert (replay.status, replay.body) == (500, first.body)
    assert replay.headers["idempotency-replayed"] == "true"


def test_R4_changed_payload_replays_and_sends_nothing(api: Api, stack: LocalStackProcess) -> None:
    shared = key()
    first = api.post(stack, api.body("first@example.com"), key=shared)
    queued = stack.drain_queue(QUEUE)
    replay = api.post(stack, api.body("changed@example.com"), key=shared)
    assert first.status == 202
    assert (replay.status, replay.body) == (202, first.body)
    assert replay.headers["idempotency-replayed"] == "true"
    assert queued and stack.drain_queue(QUEUE) == []


def test_R5_invalid_body_is_not_stored_and_the_key_is_reusable(api: Api, stack: LocalStackProcess) -> None:
    shared = key()
    assert api.post(stack, api.invalid, key=shared).status == 400
    accepted = api.post(stack, api.body("a@example.com"), key=shared)
    assert accepted.status == 202 and "idempotency-replayed" not in accepted.headers


def test_R6_expiration_header(api: Api, stack: LocalStackProcess) -> None:
    soon = str(int((time.time() + 3600) * 1000))
    assert (
        api.post(stack, api.body("a@example.com"), key=key(), headers={"X-Idempotency-Expiration": soon}).status == 400
    )
    later = datetime.now(UTC) + timedelta(days=3)
    answer = api.post(
        stack, api.body("a@example.com"), key=key(), headers={"X-Idempotency-Expiration": later.isoformat()}
    )
    assert answer.status == 202
    (record,) = stored_for(stack, answer.json()["request_id"])
    assert abs(int(record["expiration"]["N"]) - int(later.timestamp())) <= 1


def test_R7_test_version_executes_every_time(api: Api, stack: LocalStackProcess) -> None:
    shared = key()
    first = api.post(stack, api.body("a@example.com"), key=shared, version="test")
    second = api.post(stack, api.body("a@example.com"), key=shared, version="test")
    assert first.status == second.status == 202
    assert first.json()["request_id"] != second.json()["request_id"]


def test_R9_unreachable_store_is_503_and_nothing_is_sent(api: Api, stack: LocalStackProcess) -> None:
    stack.arm_fault(service="dynamodb", operation="PutItem", table="IdempotencyTable")
    answer = api.post(stack, api.body("a@example.com"), key=key())
    stack.disarm_faults()
    assert answer.status == 503 and answer.headers["retry-after"] == "2"
    assert stack.drain_queue(QUEUE) == []


def test_bulk_of_1000_recipients_is_accepted_with_1000_items(stack: LocalStackProcess) -> None:
    batch = [{"to": {"email": f"u{i}@example.com"}, "data": {"name": f"U{i}"}} for i in range(1000)]
    started = time.monotonic()
    answer = BULK.post(stack, {"event": "Welcome_Email", "batch": batch}, key=key())
    elapsed = time.monotonic() - started
    assert answer.status == 202, answer.text
    items = answer.json()["response"]
    assert [item["seq"] for item in items] == list(range(1, 1001))
    assert all(item["email"]["status"] == "ok" for item in items)
    assert len(stack.drain_queue(QUEUE)) == 1000
    print(f"1000-recipient bulk answered in {elapsed:.2f}s")  # a figure, not an assertion: this machine is shared


def test_R3_a_500_kb_bulk_answer_replays_identically_over_http(stack: LocalStackProcess) -> None:
    """Past DynamoDB's 400 KB item limit: 1000 recipients with long addresses on two channels."""
    batch = []
    for i in range(1000):
        local = uuid.uuid5(uuid.NAMESPACE_URL, f"local{i}").hex * 2  # 64 characters
        domain = ".".join(uuid.uuid5(uuid.NAMESPACE_URL, f"d{i}{n}").hex[:30] for n in range(5))
        batch.append(
            {
                "to": {"email": f"{local}@{domain}.example.com", "sms": f"+1415{i:07d}"},
                "data": {"name": "N", "order_id": str(i), "amount": "9"},
            }
        )
    body = {"event": "OrderConfirmed", "batch": batch}
    bulk_key = key()
    first = BULK.post(stack, body, key=bulk_key)
    assert first.status == 202
    assert len(first.body) > 450 * 1024
    replay = BULK.post(stack, {"event": "OrderConfirmed", "batch": batch[:1]}, key=bulk_key)
    assert (replay.status, replay.headers["idempotency-replayed"]) == (202, "true")
    assert replay.body == first.body
    assert len(stack.drain_queue(QUEUE)) == 2000


def test_bulk_invalid_item_is_named_by_seq(stack: LocalStackProcess) -> None:
    answer = BULK.post(stack, BULK.invalid)
    assert answer.status == 400
    assert answer.json()["errors"] == [
        {"seq": 2, "field": "to.email", "message": "Value error, must be an email address"}
    ]
