"""Automations API (docs/contract.md sections 2 and 4): steps from the payload, delays, chained long delays."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from notify.dal.definitions import put_automation
from notify.models.definitions import AutomationDefinition
from tests.support.clients import AutomationApiClient
from tests.support.stack import Stack

PAYLOAD = {
    "email": "rahul@example.com",
    "phone": "+14155550100",
    "name": "Rahul",
    "order": {"id": "A-1", "amount": "9"},
}


def define(stack: Stack, automation: dict[str, Any]) -> AutomationApiClient:
    put_automation(stack.workspaces[0].workspace, AutomationDefinition.model_validate(automation))
    return AutomationApiClient(stack.workspaces[0], automation["id"])


def test_trigger_answers_every_step_and_queues_them_with_their_delay(
    automation_client: AutomationApiClient, stack: Stack
) -> None:
    response = automation_client.post(PAYLOAD, key="onboard-rahul")
    assert response.status == 202
    answer = response.json()
    assert set(answer) == {"automation_id", "received_time", "request_id", "steps"}
    assert answer["automation_id"] == "onboarding"
    uuid.UUID(answer["request_id"])
    welcome, confirm = answer["steps"]
    assert (welcome["step"], welcome["event"], welcome["delay_seconds"]) == (1, "Welcome_Email", 0)
    assert (confirm["step"], confirm["event"], confirm["delay_seconds"]) == (2, "OrderConfirmed", 60)
    assert welcome["response"]["email"]["destination"] == "rahul@example.com"
    assert set(confirm["response"]) == {"email", "sms"}

    delays = stack.queued_delays()
    assert delays[welcome["response"]["email"]["msg_id"]] == 0
    assert delays[confirm["response"]["sms"]["msg_id"]] == 60
    data = {m["msg_id"]: m["data"] for m in stack.queued_messages()}
    assert data[welcome["response"]["email"]["msg_id"]] == {"name": "Rahul"}
    assert data[confirm["response"]["email"]["msg_id"]] == {"name": "Rahul", "order_id": "A-1", "amount": "9"}
    assert {m["request_id"] for m in stack.queued_messages()} == {answer["request_id"]}


def test_optional_channel_missing_from_the_payload_is_skipped(
    automation_client: AutomationApiClient, stack: Stack
) -> None:
    payload = {key: value for key, value in PAYLOAD.items() if key != "phone"}
    response = automation_client.post(payload)
    assert response.status == 202
    assert set(response.json()["steps"][1]["response"]) == {"email"}


def test_delay_beyond_15_minutes_is_chained(stack: Stack) -> None:
    client = define(
        stack,
        {"id": "later", "steps": [{"event": "Welcome_Email", "to": {"email": "email"}, "delay_seconds": 7200}]},
    )
    before = int(time.time())
    response = client.post(PAYLOAD)
    assert response.status == 202
    (queued,) = stack.queued_messages()
    assert stack.queued_delays() == {queued["msg_id"]: 900}  # SQS's maximum; senders chain the rest
    assert before + 7200 <= queued["not_before"] <= int(time.time()) + 7200


def test_unknown_automation_is_400(stack: Stack) -> None:
    response = AutomationApiClient(stack.workspaces[0], "missing").post(PAYLOAD)
    assert response.status == 400
    assert response.json() == {"_message": "The automation 'missing' is invalid or does not exist", "status": "error"}


def test_automation_of_another_workspace_is_unknown(stack: Stack) -> None:
    put_automation(
        stack.workspaces[1].workspace,
        AutomationDefinition.model_validate(
            {"id": "theirs", "steps": [{"event": "Welcome_Email", "to": {"email": "email"}}]}
        ),
    )
    assert AutomationApiClient(stack.workspaces[0], "theirs").post(PAYLOAD).status == 400


@pytest.mark.parametrize(
    ("payload", "step", "field"),
    [
        ({"name": "no address"}, 1, "to"),
        ([1, 2, 3], 1, "to"),
        ({**PAYLOAD, "email": "not-an-email"}, 1, "to.email"),
        ({**PAYLOAD, "email": 42}, 1, "to.email"),
    ],
    ids=["missing", "not-an-object", "invalid-address", "not-a-string"],
)
def test_payload_that_yields_no_valid_recipient_is_400_naming_the_step(
    automation_client: AutomationApiClient, stack: Stack, payload: Any, step: int, field: str
) -> None:
    response = automation_client.post(payload, key="bad-payload")
    assert response.status == 400
    errors = response.json()["errors"]
    assert {"step": step, "field": field} == {k: errors[0][k] for k in ("step", "field")}
    assert stack.queued_messages() == [] and stack.idempotency_items() == []


def test_step_naming_an_unknown_event_is_400(stack: Stack) -> None:
    client = define(stack, {"id": "broken", "steps": [{"event": "Gone", "to": {"email": "email"}}]})
    response = client.post(PAYLOAD)
    assert response.status == 400
    assert response.json()["_message"] == "The notification event name 'Gone' is invalid or does not exist"


def test_data_expression_must_yield_an_object(stack: Stack) -> None:
    client = define(
        stack, {"id": "scalar", "steps": [{"event": "Welcome_Email", "to": {"email": "email"}, "data": "name"}]}
    )
    response = client.post(PAYLOAD)
    assert response.status == 400
    assert response.json()["errors"][0] == {
        "step": 1,
        "field": "data",
        "message": "the data expression must yield an object",
    }


def test_empty_body_is_an_empty_payload(automation_client: AutomationApiClient, stack: Stack) -> None:
    response = automation_client.post(raw_body="")
    assert response.status == 400
    assert response.json()["errors"][0]["field"] == "to"


def test_invalid_jmespath_in_a_definition_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid JMESPath expression"):
        AutomationDefinition.model_validate({"id": "x", "steps": [{"event": "E", "to": {"email": "a[["}}]})


def test_payload_nested_too_deep_is_400_and_nothing_is_stored(
    automation_client: AutomationApiClient, stack: Stack
) -> None:
    """Was a stored 500: the default data expression copies the whole payload into the queue message."""
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    response = automation_client.post({**PAYLOAD, "deep": deep}, key="too-deep")
    assert response.status == 400
    assert response.json()["_message"] == "The request body nests arrays and objects more than 64 levels deep"
    assert stack.idempotency_items() == [] and stack.queued_messages() == []
