"""Provider events (docs/contract.md section 8, E1-E4): SES's delivery, bounce and complaint events reach the
provider-events function through SNS and show on the status route with SES's reason; a hard bounce or a complaint
suppresses the address; the same SNS message twice changes nothing twice; each new state is reported."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.template import function_environment
from notify.logic.providers import aws
from notify.logic.reports import webhook_id
from notify.settings import get_settings
from notify_admin.ses_events import ses_event
from tests.support.clients import EventApiClient, StatusApiClient, welcome
from tests.support.reports import ReporterDriver
from tests.support.sender import SenderDriver
from tests.support.stack import Stack, load_function, sent_emails

ADDRESS = "rahul@example.com"


class ProviderEvents:
    """The provider-events function with its template environment, invoked as SNS invokes it."""

    def __init__(self, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, value in function_environment("ProviderEventsFunction", stack.resources).items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        self.module = load_function("provider_events")
        self.sns_ids = 0

    def publish(self, kind: str, accepted: dict[str, Any], *, sns_message_id: str | None = None) -> list[str]:
        self.sns_ids += 1
        event = ses_event(
            kind,
            address=ADDRESS,
            msg_id=accepted["response"]["email"]["msg_id"],
            request_id=accepted["request_id"],
            workspace="WSLOCAL0001",
        )
        record = {
            "EventSource": "aws:sns",
            "Sns": {"MessageId": sns_message_id or f"sns-{self.sns_ids}", "Message": json.dumps(event)},
        }
        context = type(
            "Context",
            (),
            {
                "function_name": "ProviderEventsFunction",
                "memory_limit_in_mb": 512,
                "invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:P",
                "aws_request_id": "req",
            },
        )()
        return list(self.module.lambda_handler({"Records": [record]}, context)["outcomes"])


@pytest.fixture
def events(stack: Stack, sender: SenderDriver, monkeypatch: pytest.MonkeyPatch) -> ProviderEvents:
    return ProviderEvents(stack, monkeypatch)


def sent(client: EventApiClient, sender: SenderDriver, body: dict[str, Any] | None = None) -> dict[str, Any]:
    accepted = client.post(body or welcome()).json()
    sender.drain()
    return dict(accepted)


def shown(status: StatusApiClient, accepted: dict[str, Any]) -> tuple[str, str | None]:
    [notification] = status.get(accepted["request_id"]).json()["notifications"]
    return notification["state"], notification["reason"]


def test_the_sender_sends_through_the_configuration_set_tagging_the_notification(
    client: EventApiClient, sender: SenderDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    original = aws.send_email

    def recorded(**kwargs: Any) -> str:
        calls.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(aws, "send_email", recorded)
    accepted = sent(client, sender)
    [call] = calls
    assert call["configuration_set"] == "EmailEvents"  # the template's configuration set (its local name)
    assert call["tags"] == {
        "msg_id": accepted["response"]["email"]["msg_id"],
        "request_id": accepted["request_id"],
        "workspace": "WSLOCAL0001",
    }


def test_delivered_shows_on_the_status_route_with_the_providers_reason(
    client: EventApiClient, sender: SenderDriver, events: ProviderEvents, status: StatusApiClient
) -> None:
    accepted = sent(client, sender)
    assert events.publish("delivery", accepted) == ["recorded"]
    assert shown(status, accepted) == ("delivered", "delivered: 250 2.0.0 OK")


def test_a_hard_bounce_is_recorded_and_suppresses_the_address(
    client: EventApiClient, sender: SenderDriver, events: ProviderEvents, status: StatusApiClient
) -> None:
    accepted = sent(client, sender)
    events.publish("hard-bounce", accepted)
    assert shown(status, accepted) == ("bounced", "hard bounce (Permanent/General): smtp; 550 5.1.1 user unknown")

    again = client.post(welcome(), key="after-the-bounce").json()
    assert again["response"]["email"]["status"] == "skipped"
    assert again["response"]["email"]["_message"].startswith("suppressed: hard bounce")
    sender.drain()
    assert len(sent_emails()) == 1


def test_a_soft_bounce_is_recorded_and_suppresses_nothing(
    client: EventApiClient, sender: SenderDriver, events: ProviderEvents, status: StatusApiClient
) -> None:
    accepted = sent(client, sender)
    events.publish("soft-bounce", accepted)
    assert shown(status, accepted)[0] == "bounced"
    assert client.post(welcome(), key="after-soft").json()["response"]["email"]["status"] == "ok"


def test_a_complaint_after_delivery_is_recorded_and_suppresses_the_address(
    client: EventApiClient, sender: SenderDriver, events: ProviderEvents, status: StatusApiClient
) -> None:
    accepted = sent(client, sender)
    events.publish("delivery", accepted)
    events.publish("complaint", accepted)
    assert shown(status, accepted) == ("complained", "complaint (abuse)")
    # SNS does not keep order: a delivery event arriving late does not move it back.
    events.publish("delivery", accepted, sns_message_id="late-copy")
    assert shown(status, accepted)[0] == "complained"
    assert client.post(welcome(), key="after-complaint").json()["response"]["email"]["status"] == "skipped"


def test_the_same_sns_message_twice_changes_nothing_twice(
    client: EventApiClient,
    sender: SenderDriver,
    events: ProviderEvents,
    status: StatusApiClient,
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reporter = ReporterDriver(stack, monkeypatch)
    from tests.support.reports import add_endpoint

    add_endpoint("WSLOCAL0001", "crm", "https://reports.example.com/crm", default=True)
    accepted = sent(client, sender, {**welcome(), "callback": {"custom_id": "b-1"}})
    before = [m["report"]["status"] for m in reporter.queued()]
    assert before == ["sent"]

    assert events.publish("hard-bounce", accepted, sns_message_id="sns-same") == ["recorded"]
    assert events.publish("hard-bounce", accepted, sns_message_id="sns-same") == ["duplicate"]
    assert events.publish("hard-bounce", accepted, sns_message_id="ses-repeated-it") == ["duplicate"]

    reports = [m for m in reporter.queued() if m["report"]["status"] == "bounced"]
    assert len(reports) == 1
    msg_id = accepted["response"]["email"]["msg_id"]
    assert reports[0]["webhook_id"] == webhook_id(msg_id, "bounced")
    assert reports[0]["report"]["reason"].startswith("hard bounce") and ADDRESS not in json.dumps(reports[0])
    assert shown(status, accepted)[0] == "bounced"


def test_a_redelivered_sender_copy_never_moves_a_delivered_notification_back_to_sent(
    client: EventApiClient, sender: SenderDriver, events: ProviderEvents, status: StatusApiClient, stack: Stack
) -> None:
    accepted = client.post(welcome()).json()
    [queued] = stack.queued_messages()
    sender.drain()
    events.publish("delivery", accepted)
    sender.requeue(queued)  # SQS hands the sender another copy: it finds the msg_id sent, writes the outcome again
    sender.drain()
    assert shown(status, accepted)[0] == "delivered"
    assert len(sent_emails()) == 1


def test_an_event_without_the_notifications_tags_changes_nothing(events: ProviderEvents) -> None:
    untagged = {"eventType": "Delivery", "mail": {"messageId": "x", "destination": [ADDRESS], "tags": {}}}
    record = {"Sns": {"MessageId": "sns-x", "Message": json.dumps(untagged)}}
    context = type(
        "C", (), {"function_name": "P", "memory_limit_in_mb": 1, "invoked_function_arn": "a", "aws_request_id": "r"}
    )()
    assert events.module.lambda_handler({"Records": [record]}, context) == {"outcomes": ["unmatched"]}
