"""The admin's dead-letter commands: list the DLQ, and redrive it without ever sending a msg_id twice (R8)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.retries.standard import ExponentialBackoff
from moto.core.exceptions import ServiceException
from moto.ses.models import SESBackend

from notify_admin import cli as admin
from tests.support.clients import EventApiClient, StatusApiClient, welcome
from tests.support.sender import SenderDriver
from tests.support.stack import REGION, Stack, sent_emails


class TooManyRequests(ServiceException):
    code = "TooManyRequestsException"


@pytest.fixture
def throttled_ses(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """SES throttles every send until the returned function is called."""
    working = SESBackend.send_email

    def throttled(*args: Any, **kwargs: Any) -> Any:
        raise TooManyRequests("Maximum sending rate exceeded.")

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    monkeypatch.setattr(SESBackend, "send_email", throttled)
    return lambda: monkeypatch.setattr(SESBackend, "send_email", working)


def dead_letter(stack: Stack, body: dict[str, Any]) -> None:
    sqs = stack.session.client("sqs", region_name=REGION)
    sqs.send_message(QueueUrl=stack.resources.queues["NotificationDLQ"]["url"], MessageBody=json.dumps(body))


def dlq_depth(stack: Stack) -> int:
    sqs = stack.session.client("sqs", region_name=REGION)
    attributes = sqs.get_queue_attributes(
        QueueUrl=stack.resources.queues["NotificationDLQ"]["url"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def email_state(status: StatusApiClient, request_id: str) -> dict[str, Any]:
    answer = status.get(request_id).json()
    [email] = [n for n in answer["notifications"] if n["channel"] == "email"]
    return email


def test_redrive_delivers_a_notification_that_died_while_the_provider_throttled(
    deployed: str,
    stack: Stack,
    client: EventApiClient,
    sender: SenderDriver,
    status: StatusApiClient,
    throttled_ses: Callable[[], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    accepted = client.post(welcome(), key="redrive-1").json()
    sender.drain()
    assert email_state(status, accepted["request_id"])["state"] == "failed"
    assert dlq_depth(stack) == 1
    throttled_ses()  # the provider recovers

    capsys.readouterr()
    assert admin.run(["--stack-name", deployed, "redrive"]) == 0
    assert "moved 1 message(s) back to the notification queue" in capsys.readouterr().out
    assert dlq_depth(stack) == 0
    sender.drain()

    assert len(sent_emails()) == 1
    assert email_state(status, accepted["request_id"])["state"] == "sent"


def test_R8_redriven_message_that_was_already_sent_is_not_sent_again(
    deployed: str, stack: Stack, client: EventApiClient, sender: SenderDriver
) -> None:
    """A copy of a delivered notification in the DLQ (say, a duplicate SQS delivery that kept failing)."""
    client.post(welcome(), key="redrive-2")
    [queued] = stack.queued_messages()
    sender.drain()
    assert len(sent_emails()) == 1
    dead_letter(stack, queued)

    assert admin.run(["--stack-name", deployed, "redrive"]) == 0
    sender.drain()

    assert len(sent_emails()) == 1
    assert dlq_depth(stack) == 0
    assert sender.dead_letters() == []


def test_redrive_moves_at_most_max_messages(deployed: str, stack: Stack, client: EventApiClient) -> None:
    for index in range(3):
        client.post(welcome(f"user{index}@example.com"), key=f"redrive-max-{index}")
    for message in stack.queued_messages():
        dead_letter(stack, message)
    sqs = stack.session.client("sqs", region_name=REGION)
    sqs.purge_queue(QueueUrl=stack.queue_url)

    assert admin.run(["--stack-name", deployed, "redrive", "--max", "2"]) == 0

    assert dlq_depth(stack) == 1
    assert len(stack.queued_messages()) == 2


def test_dead_letters_lists_them_masked_and_moves_none(
    deployed: str, stack: Stack, client: EventApiClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.post(welcome("rahul@example.com"), key="redrive-list")
    [queued] = stack.queued_messages()
    dead_letter(stack, queued)
    dead_letter(stack, {"not": "a notification"})

    capsys.readouterr()
    assert admin.run(["--stack-name", deployed, "dead-letters"]) == 0

    output = capsys.readouterr().out
    assert f"msg_id={queued['msg_id']}" in output
    assert "destination=r***@example.com" in output
    assert "rahul@example.com" not in output
    assert "not a notification message" in output
    assert "2 dead letter(s) listed; none moved" in output
    assert dlq_depth(stack) == 2


def test_local_stack_queues_are_found_by_their_logical_ids(stack: Stack) -> None:
    """With --endpoint-url and no stack, the queues are the template's logical ids, as the local stack names them."""
    args = argparse.Namespace(stack_name=None, endpoint_url="http://127.0.0.1:5000", queue_url=None, dlq_url=None)
    queues = admin.resolve_queues(args)
    assert queues == admin.Queues(
        notifications=stack.resources.queues["NotificationQueue"]["url"],
        dead_letters=stack.resources.queues["NotificationDLQ"]["url"],
    )


def test_redrive_without_a_stack_or_queues_is_an_operator_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert admin.run(["redrive"]) == 2
    assert "name a stack (--stack-name), an endpoint (--endpoint-url) or both queues" in capsys.readouterr().err
