"""The operator's redrive (python -m notify_admin redrive-notifications): `unknown` and `failed`
notifications are delivered again on purpose, once; a `sent` notification is always refused (R8).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from notify_admin import cli as admin
from tests.support.clients import StatusApiClient
from tests.support.faults import transport_failure
from tests.support.scenarios import Api
from tests.support.sender import SenderDriver
from tests.support.stack import Stack, sent_emails


def read_timeout(request: Any) -> Exception:
    return ReadTimeoutError(endpoint_url=request.url)


def refused(request: Any) -> Exception:
    return EndpointConnectionError(endpoint_url=request.url)


@dataclass
class Operator:
    """The operator at the admin command, and what it prints."""

    deployed: str
    status: StatusApiClient
    capsys: pytest.CaptureFixture[str]

    def redrive(self, request_id: str, *options: str) -> int:
        arguments = ["--stack-name", self.deployed, "redrive-notifications", "--request-id", request_id, *options]
        return admin.run(arguments)

    def printed(self) -> str:
        return self.capsys.readouterr().out

    def shown(self, request_id: str) -> dict[str, Any]:
        [notification] = self.status.get(request_id).json()["notifications"]
        return dict(notification)


@pytest.fixture
def operator(deployed: str, status: StatusApiClient, capsys: pytest.CaptureFixture[str]) -> Operator:
    return Operator(deployed, status, capsys)


def test_R8_redrive_sends_an_unknown_notification_once_more_on_purpose_and_then_refuses(
    client_api: Api, stack: Stack, sender: SenderDriver, operator: Operator
) -> None:
    request_id = client_api.client.post(client_api.body("a@example.com"), key="redrive-unknown").json()["request_id"]
    with transport_failure("sesv2", "SendEmail", read_timeout, accepted=True):
        sender.drain()
    assert operator.shown(request_id)["state"] == "unknown"
    operator.printed()

    assert operator.redrive(request_id) == 0
    assert "queued again" in operator.printed()
    assert operator.shown(request_id)["state"] == "queued"
    [message] = stack.queued_messages()
    assert "a@example.com" not in operator.printed()  # what is printed names ids, never addresses
    sender.drain()

    assert len(sent_emails()) == 2  # the first, whose answer was lost, and the operator's one
    notification = operator.shown(request_id)
    assert (notification["state"], notification["reason"]) == ("sent", None)

    assert operator.redrive(request_id) == 3  # now sent: refused
    assert "refused" in operator.printed()
    sender.requeue(message)  # and a stray copy of the redriven message finds the new guard
    sender.drain()
    assert stack.queued_messages() == []
    assert len(sent_emails()) == 2


def test_R8_redrive_delivers_a_failed_notification_whose_provider_was_down(
    client_api: Api, sender: SenderDriver, operator: Operator
) -> None:
    request_id = client_api.client.post(client_api.body("a@example.com"), key="redrive-failed").json()["request_id"]
    with transport_failure("sesv2", "SendEmail", refused, accepted=False):
        sender.drain()
    assert operator.shown(request_id)["state"] == "failed"
    assert sent_emails() == []

    assert operator.redrive(request_id, "--channel", "email") == 0
    sender.drain()

    assert len(sent_emails()) == 1
    assert operator.shown(request_id)["state"] == "sent"


def test_R8_redrive_refuses_a_sent_notification_and_queues_nothing(
    client_api: Api, stack: Stack, sender: SenderDriver, operator: Operator
) -> None:
    request_id = client_api.client.post(client_api.body("a@example.com"), key="redrive-sent").json()["request_id"]
    sender.drain()
    msg_id = operator.shown(request_id)["msg_id"]

    assert operator.redrive(request_id, "--msg-id", msg_id) == 3

    assert f"refused: {msg_id} (email): it is sent" in operator.printed()
    assert stack.queued_messages() == []
    assert len(sent_emails()) == 1


def test_redrive_of_an_unknown_request_is_an_operator_error(operator: Operator) -> None:
    assert operator.redrive("00000000-0000-4000-8000-000000000000") == 2
    assert "no notification of request" in operator.capsys.readouterr().err
