"""Delivery reports of automation steps (docs/contract.md section 8): a step's `callback` is a JMESPath expression
over the trigger payload, checked at the door like an Event's (400 naming the step), and each of the step's
notifications is reported as an Event's is."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from notify.dal.definitions import put_automation
from notify.logic.reports import webhook_id
from notify.logic.suppressions import suppress
from notify.models.channels import Channel
from notify.models.definitions import AutomationDefinition
from tests.support.clients import AutomationApiClient
from tests.support.reports import Receiver, ReporterDriver, add_endpoint
from tests.support.sender import SenderDriver
from tests.support.stack import Stack, sent_emails

WORKSPACE = "WSLOCAL0001"
PAYLOAD = {"email": "rahul@example.com", "name": "Rahul", "ref": "order-9"}


def define(stack: Stack, *callbacks: str | None, automation_id: str = "reported") -> AutomationApiClient:
    """An automation of one Welcome_Email step per callback expression, none delayed."""
    steps: list[dict[str, Any]] = [
        {"event": "Welcome_Email", "to": {"email": "email"}, "data": "{name: name}"} for _ in callbacks
    ]
    for step, callback in zip(steps, callbacks, strict=True):
        if callback is not None:
            step["callback"] = callback
    put_automation(WORKSPACE, AutomationDefinition.model_validate({"id": automation_id, "steps": steps}))
    return AutomationApiClient(stack.workspaces[0], automation_id)


def test_a_step_callback_from_the_payload_reports_each_state(
    stack: Stack, sender: SenderDriver, reporter: ReporterDriver, receiver: Receiver
) -> None:
    add_endpoint(WORKSPACE, "crm", receiver.url, default=True)
    client = define(stack, "{custom_id: ref, custom1: 'welcome'}", None)
    accepted = client.post(PAYLOAD)
    assert accepted.status == 202, accepted.body
    [first, second] = [step["response"]["email"]["msg_id"] for step in accepted.json()["steps"]]

    sender.drain()
    assert len(sent_emails()) == 2
    [queued] = reporter.queued()  # the step without a callback asks for no report
    assert queued["webhook_id"] == webhook_id(first, "sent")
    reporter.run_once()
    [report] = receiver.received
    body = report.json()
    assert (body["custom_id"], body["custom1"], body["msg_id"], body["status"]) == ("order-9", "welcome", first, "sent")
    assert body["request_id"] == accepted.json()["request_id"] and second != first


def test_a_fixed_callback_is_a_jmespath_literal(
    stack: Stack, sender: SenderDriver, reporter: ReporterDriver, receiver: Receiver
) -> None:
    add_endpoint(WORKSPACE, "crm", receiver.url)
    client = define(stack, '`{"custom_id": 7, "allowlist_urls": ["crm"]}`')
    assert client.post(PAYLOAD).status == 202
    sender.drain()
    reporter.run_once()
    [report] = receiver.received
    assert (report.json()["custom_id"], report.json()["status"]) == (7, "sent")


def test_an_unknown_endpoint_name_is_400_naming_the_step_and_nothing_is_queued(
    stack: Stack, reporter: ReporterDriver
) -> None:
    add_endpoint(WORKSPACE, "crm", "https://reports.example.com/crm")
    client = define(stack, "{custom_id: ref, allowlist_urls: ['crm']}", "{custom_id: ref, allowlist_urls: ['billing']}")
    refused = client.post(PAYLOAD)
    assert refused.status == 400
    assert refused.json()["errors"] == [
        {
            "step": 2,
            "field": "callback.allowlist_urls",
            "message": "no delivery report endpoint named 'billing' in this workspace",
        }
    ]
    assert stack.queued_messages() == [] and reporter.queued() == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**PAYLOAD, "ref": "x" * 201}, "callback.custom_id"),
        ({**PAYLOAD, "ref": True}, "callback.custom_id"),
        ({**PAYLOAD, "ref": ["a"]}, "callback.custom_id"),
    ],
)
def test_a_callback_the_payload_breaks_is_400_naming_the_step_and_field(
    stack: Stack, payload: dict[str, Any], field: str
) -> None:
    refused = define(stack, "{custom_id: ref}").post(payload)
    assert refused.status == 400
    assert [(e["step"], e["field"]) for e in refused.json()["errors"]] == [(1, field)], refused.json()
    assert "x" * 201 not in refused.body
    assert stack.queued_messages() == []


def test_a_callback_expression_yielding_no_object_is_400_and_null_asks_for_no_report(
    stack: Stack, sender: SenderDriver, reporter: ReporterDriver
) -> None:
    refused = define(stack, "ref").post(PAYLOAD)
    assert refused.status == 400
    assert refused.json()["errors"] == [
        {"step": 1, "field": "callback", "message": "the callback expression must yield an object"}
    ]
    assert define(stack, "missing", automation_id="unreported").post(PAYLOAD).status == 202
    sender.drain()
    assert len(sent_emails()) == 1 and reporter.queued() == []


def test_an_invalid_callback_expression_is_refused_when_defined() -> None:
    with pytest.raises(ValidationError, match="invalid JMESPath expression"):
        AutomationDefinition.model_validate(
            {"id": "bad", "steps": [{"event": "Welcome_Email", "to": {"email": "email"}, "callback": "{custom_id:"}]}
        )


def test_a_suppressed_step_is_reported_skipped(stack: Stack, reporter: ReporterDriver, receiver: Receiver) -> None:
    suppress(WORKSPACE, Channel.email, destination="rahul@example.com", description="hard bounce")
    add_endpoint(WORKSPACE, "crm", receiver.url, default=True)
    accepted = define(stack, "{custom_id: ref}").post(PAYLOAD)
    assert accepted.json()["steps"][0]["response"]["email"]["status"] == "skipped"
    reporter.run_once()
    [report] = receiver.received
    assert (report.json()["custom_id"], report.json()["status"]) == ("order-9", "skipped")
