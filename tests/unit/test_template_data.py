"""D8: a request whose `data` lacks a variable a template it sends needs is refused at the door (issue 18, case 7).

Before: `202` with `"status": "ok"`, and `'name' is undefined` only later on the status route. Now a `400` naming the
channel and the variable, the key released, nothing stored or queued (R5); a fixed body with the same key executes.
"""

from __future__ import annotations

from typing import Any

from notify.dal.definitions import put_automation, put_event_definition
from notify.models.definitions import AutomationDefinition, EventDefinition
from tests.support.clients import AutomationApiClient, BulkApiClient, EventApiClient, StatusApiClient, welcome
from tests.support.sender import SenderDriver
from tests.support.stack import Stack, sent_emails

NAME_MISSING = "the email template needs 'name', which data does not give"


def define(stack: Stack, name: str, channels: dict[str, Any]) -> None:
    put_event_definition(
        stack.workspaces[0].workspace, EventDefinition.model_validate({"name": name, "channels": channels})
    )


def assert_nothing_stored(stack: Stack) -> None:
    assert stack.queued_messages() == [] and stack.idempotency_items() == []


def test_D8_event_missing_a_variable_is_400_naming_channel_and_variable(client: EventApiClient, stack: Stack) -> None:
    response = client.post({"event": "Welcome_Email", "to": {"email": "a@example.com"}}, key="no-name")

    assert response.status == 400
    assert response.json() == {
        "_message": f"Invalid request body: data: {NAME_MISSING}",
        "status": "error",
        "errors": [{"field": "data", "message": NAME_MISSING}],
    }
    assert_nothing_stored(stack)
    # The key was released (R5): the fixed body executes.
    fixed = client.post(welcome("a@example.com"), key="no-name")
    assert fixed.status == 202 and "idempotency-replayed" not in fixed.headers


def test_D8_event_names_every_channel_and_what_each_lacks(client: EventApiClient, stack: Stack) -> None:
    body = {"event": "OrderConfirmed", "to": {"email": "a@example.com", "sms": "+14155550100"}, "data": {"name": "A"}}

    response = client.post(body)

    assert response.status == 400
    assert response.json()["errors"] == [
        {"field": "data", "message": "the email template needs 'order_id', which data does not give"},
        {"field": "data", "message": "the sms template needs 'order_id', which data does not give"},
    ]
    assert_nothing_stored(stack)


def test_D8_only_the_channels_sent_are_checked(client: EventApiClient, stack: Stack) -> None:
    define(stack, "Mixed", {"email": {"body": "Hi {{ name }}"}, "sms": {"body": "Code {{ code }}"}})

    response = client.post({"event": "Mixed", "to": {"email": "a@example.com"}, "data": {"name": "A"}})

    assert response.status == 202  # sms needs `code`, but nothing goes to sms


def test_D8_a_missing_attribute_of_data_is_named_too(client: EventApiClient, stack: Stack) -> None:
    define(stack, "Shipping", {"email": {"subject": "To {{ address.city }}", "body": "On its way"}})

    response = client.post({"event": "Shipping", "to": {"email": "a@example.com"}, "data": {"address": {}}})

    assert response.status == 400
    message = response.json()["errors"][0]["message"]
    assert message.startswith("the email template needs 'city'") and message.endswith("which data does not give")


def test_D8_optional_variables_the_template_guards_are_not_required(client: EventApiClient, stack: Stack) -> None:
    define(
        stack, "Guarded", {"email": {"body": "Hi{% if nick is defined %} {{ nick }}{% endif %} {{ code|default('') }}"}}
    )

    assert client.post({"event": "Guarded", "to": {"email": "a@example.com"}}).status == 202


def test_D8_a_template_fault_of_the_definition_is_accepted_and_recorded_by_the_sender(
    client: EventApiClient, stack: Stack, sender: SenderDriver, status: StatusApiClient
) -> None:
    """Not the client's to fix (a syntax error, a sandbox refusal): accepted, and failed on the status route."""
    define(stack, "Broken", {"email": {"body": "{{ unclosed"}})

    accepted = client.post({"event": "Broken", "to": {"email": "a@example.com"}})
    assert accepted.status == 202

    sender.drain()
    shown = status.get(accepted.json()["request_id"]).json()["notifications"][0]
    assert shown["state"] == "failed" and shown["reason"].startswith("template error: TemplateSyntaxError")
    assert sent_emails() == []


def test_D8_bulk_names_each_item_by_seq_and_stores_nothing(bulk_client: BulkApiClient, stack: Stack) -> None:
    batch = [welcome("a@example.com"), {"to": {"email": "b@example.com"}}, welcome("c@example.com")]
    batch.append({"to": {"email": "d@example.com"}, "data": {"nick": "D"}})

    response = bulk_client.post({"event": "Welcome_Email", "batch": batch}, key="bulk-no-name")

    assert response.status == 400
    answer = response.json()
    assert answer["_message"] == f"Invalid request body: batch item seq 2: data: {NAME_MISSING}"
    assert answer["errors"] == [
        {"seq": 2, "field": "data", "message": NAME_MISSING},
        {"seq": 4, "field": "data", "message": NAME_MISSING},
    ]
    assert_nothing_stored(stack)
    fixed = bulk_client.post({"event": "Welcome_Email", "batch": [welcome("b@example.com")]}, key="bulk-no-name")
    assert fixed.status == 202


def test_D8_automation_step_whose_data_lacks_a_variable_is_named(
    automation_client: AutomationApiClient, stack: Stack
) -> None:
    """The onboarding automation's step 2 maps `order.id` and `order.amount`; a payload without `order` gives
    them as null (rendered), so this step's data expression is replaced by one that drops the order."""
    automation = {
        "id": "onboarding",
        "steps": [
            {"event": "Welcome_Email", "to": {"email": "email"}, "data": "{name: name}"},
            {"event": "OrderConfirmed", "to": {"email": "email"}, "data": "{name: name}", "delay_seconds": 60},
        ],
    }
    put_automation(stack.workspaces[0].workspace, AutomationDefinition.model_validate(automation))

    response = automation_client.post({"email": "a@example.com", "name": "A"}, key="automation-no-order")

    assert response.status == 400
    answer = response.json()
    missing = "the email template needs 'order_id', which data does not give"
    assert answer["_message"] == f"The payload does not fit the automation: step 2: data: {missing}"
    assert answer["errors"] == [{"step": 2, "field": "data", "message": missing}]
    assert_nothing_stored(stack)


def test_D8_automation_step_with_a_payload_that_gives_every_variable_is_accepted(
    automation_client: AutomationApiClient, stack: Stack
) -> None:
    payload = {"email": "a@example.com", "phone": "+14155550100", "name": "A", "order": {"id": "1", "amount": "2"}}
    assert automation_client.post(payload).status == 202
