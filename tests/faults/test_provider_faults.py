"""SES and SNS failing at the edges AWS produces: each notification reaches its recipient at most once (R8).

Faults are injected in botocore's send (tests/support/faults.py), where urllib3's own errors arise,
so botocore's retry logic sees them as it would on AWS: a read timeout or a dropped connection after
moto took the message, a 5xx or a throttling answer, a refused connection before anything left. What is
asserted is what a user sees: how many times the provider got the message, and the status route.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from notify.dal.definitions import put_event_definition
from notify.dal.inbox import list_inbox
from notify.models.definitions import EventDefinition
from tests.support.clients import StatusApiClient
from tests.support.faults import (
    DYNAMODB_INTERNAL_ERROR,
    THROTTLING,
    AwsError,
    SimulatedLambdaTimeout,
    aws_error,
    fail_call,
    time_out,
    transport_failure,
)
from tests.support.scenarios import Api
from tests.support.sender import SenderDriver
from tests.support.stack import Stack, sent_emails, sent_sms


@dataclass(frozen=True)
class Provider:
    """One AWS provider: the channel it serves, its botocore operation, and what it has delivered."""

    name: str
    service: str
    operation: str
    to: dict[str, str]
    delivered: Callable[[], list[Any]]
    throttle: AwsError


SES = Provider(
    "ses",
    "sesv2",
    "SendEmail",
    {"email": "a@example.com"},
    sent_emails,
    AwsError(429, "TooManyRequestsException", "Maximum sending rate exceeded."),
)
SNS = Provider(
    "sns",
    "sns",
    "Publish",
    {"sms": "+14155550123"},
    sent_sms,
    AwsError(400, "Throttling", "Rate exceeded"),
)
ORDER = {"name": "R", "order_id": "A-1", "amount": "1 EUR"}


@pytest.fixture(params=[SES, SNS], ids=lambda provider: provider.name)
def provider(request: pytest.FixtureRequest) -> Provider:
    return request.param


def send(client_api: Api, provider: Provider, key: str) -> str:
    accepted = client_api.client.post({"event": "OrderConfirmed", "to": provider.to, "data": ORDER}, key=key)
    assert accepted.status == 202, accepted.body
    return str(accepted.json()["request_id"])


def shown(status: StatusApiClient, request_id: str) -> dict[str, Any]:
    [notification] = status.get(request_id).json()["notifications"]
    return dict(notification)


def read_timeout(request: Any) -> Exception:
    return ReadTimeoutError(endpoint_url=request.url)


def connection_closed(request: Any) -> Exception:
    return ConnectionClosedError(endpoint_url=request.url)


def refused(request: Any) -> Exception:
    return EndpointConnectionError(endpoint_url=request.url)


@pytest.mark.parametrize("lost", [read_timeout, connection_closed], ids=["read-timeout", "connection-closed"])
def test_R8_answer_lost_after_the_provider_took_it_is_unknown_and_never_sent_again(
    client_api: Api,
    stack: Stack,
    sender: SenderDriver,
    status: StatusApiClient,
    provider: Provider,
    lost: Callable[[Any], Exception],
    capsys: pytest.CaptureFixture[str],
) -> None:
    request_id = send(client_api, provider, f"lost-{provider.name}")
    [message] = stack.queued_messages()

    with transport_failure(provider.service, provider.operation, lost, accepted=True) as failed:
        sender.drain()
        sender.requeue(message)  # and SQS hands out another copy later
        sender.drain()

    assert len(failed) == 1  # botocore did not send it again
    assert len(provider.delivered()) == 1  # the recipient got it once
    notification = shown(status, request_id)
    assert (notification["state"], notification["attempts"]) == ("unknown", 1)
    assert notification["provider"] == provider.name
    assert type(lost(failed[0])).__name__ in notification["reason"]
    assert "not sent again" in notification["reason"]
    assert sender.dead_letters() == []
    assert '"NotificationsUnknown"' in capsys.readouterr().out


def test_R8_provider_5xx_is_unknown_and_the_provider_is_asked_once(
    client_api: Api, sender: SenderDriver, status: StatusApiClient, provider: Provider
) -> None:
    request_id = send(client_api, provider, f"5xx-{provider.name}")

    with aws_error(provider.service, provider.operation, AwsError(500, "InternalFailure")) as answered:
        sender.drain()

    assert len(answered) == 1  # once: no botocore retry, no SQS redelivery
    notification = shown(status, request_id)
    assert (notification["state"], notification["attempts"]) == ("unknown", 1)
    assert "InternalFailure (500)" in notification["reason"]
    assert sender.dead_letters() == []


def test_R8_provider_throttling_is_retried_through_sqs_and_sent_once(
    client_api: Api, sender: SenderDriver, status: StatusApiClient, provider: Provider
) -> None:
    request_id = send(client_api, provider, f"throttled-{provider.name}")

    with aws_error(provider.service, provider.operation, provider.throttle, times=1) as answered:
        sender.drain()

    assert len(answered) == 1
    assert len(provider.delivered()) == 1
    notification = shown(status, request_id)
    # Refused by an explicit throttle, so not taken: the sender let SQS bring it back, then sent it.
    assert (notification["state"], notification["attempts"], notification["reason"]) == ("sent", 2, None)


def test_R8_connection_refused_before_sending_is_retried_through_sqs_and_sent_once(
    client_api: Api, sender: SenderDriver, status: StatusApiClient, provider: Provider
) -> None:
    request_id = send(client_api, provider, f"refused-{provider.name}")

    with transport_failure(provider.service, provider.operation, refused, accepted=False, times=1) as failed:
        sender.drain()

    assert len(failed) == 1
    assert len(provider.delivered()) == 1
    notification = shown(status, request_id)
    assert (notification["state"], notification["attempts"]) == ("sent", 2)


def test_R8_provider_refusing_every_connection_is_failed_after_the_last_receive_and_never_sent(
    client_api: Api, sender: SenderDriver, status: StatusApiClient, provider: Provider
) -> None:
    request_id = send(client_api, provider, f"down-{provider.name}")

    with transport_failure(provider.service, provider.operation, refused, accepted=False) as failed:
        sender.drain()

    assert len(failed) == 5  # one call per receive (MaxReceiveCount), none inside botocore
    assert provider.delivered() == []
    notification = shown(status, request_id)
    assert (notification["state"], notification["attempts"]) == ("failed", 5)
    assert (
        notification["reason"]
        == f"dead-lettered: {provider.name} unreachable: EndpointConnectionError (attempt 5 of 5)"
    )


def test_R8_sender_killed_before_the_provider_call_is_unknown_not_sent_twice(
    client_api: Api, sender: SenderDriver, status: StatusApiClient, provider: Provider
) -> None:
    """The claim is held and nobody knows how far the dead sender got: never sent again automatically."""
    request_id = send(client_api, provider, f"killed-before-{provider.name}")

    with fail_call(provider.service, provider.operation, action=time_out), pytest.raises(SimulatedLambdaTimeout):
        sender.run_once()
    sender.expire_in_flight()
    sender.drain()

    assert provider.delivered() == []
    notification = shown(status, request_id)
    assert notification["state"] == "unknown"
    assert "interrupted" in notification["reason"]


def test_R8_sender_killed_right_after_its_claim_is_unknown_on_the_status_route(
    client_api: Api, sender: SenderDriver, status: StatusApiClient, stack: Stack, provider: Provider
) -> None:
    """Killed right after the msg_id claim (the put that creates the notification's item, held): the last receive
    records `unknown`, with the item's channel and destination, and the status route shows it (the soak's seed 7
    scenario 149 found a record without them when the claim and the attempt were two writes)."""
    request_id = send(client_api, provider, f"killed-at-attempt-{provider.name}")

    # Its next call after the claim is the suppression list's read (S2).
    suppressions = stack.resources.tables["SuppressionsTable"]
    killed = fail_call("dynamodb", "BatchGetItem", table=suppressions, action=time_out)
    with killed, pytest.raises(SimulatedLambdaTimeout):
        sender.run_once()
    sender.expire_in_flight()
    sender.drain()

    assert provider.delivered() == []
    notification = shown(status, request_id)
    # The claim's attempt and the last receive's.
    assert (notification["state"], notification["attempts"]) == ("unknown", 2)
    assert notification["channel"] == next(iter(provider.to))
    assert "interrupted" in notification["reason"]


def test_R8_sender_killed_before_its_claim_was_written_sends_once(
    client_api: Api, sender: SenderDriver, status: StatusApiClient, stack: Stack, provider: Provider
) -> None:
    """Killed while its claim's put was on the way (never written): nothing holds the msg_id and nothing was sent,
    so the next receive claims it and sends it, once."""
    request_id = send(client_api, provider, f"killed-before-claim-{provider.name}")

    log = stack.resources.tables["DeliveryLogTable"]
    with fail_call("dynamodb", "PutItem", table=log, action=time_out), pytest.raises(SimulatedLambdaTimeout):
        sender.run_once()
    sender.expire_in_flight()
    sender.drain()

    assert len(provider.delivered()) == 1
    notification = shown(status, request_id)
    assert (notification["state"], notification["attempts"]) == ("sent", 1)


# The inbox (a DynamoDB PutItem) and the sender's delivery log ---------------------------------------------

# botocore retries DynamoDB calls (notify.dal.clients): a PutItem sent again writes the same inbox item.
DYNAMODB_ATTEMPTS = 1 + 3


@pytest.fixture
def inapp(client_api: Api, stack: Stack) -> Callable[[str], str]:
    definition = EventDefinition.model_validate({"name": "Mention", "channels": {"inapp": {"body": "hi"}}})
    put_event_definition(stack.workspaces[0].workspace, definition)

    def post(key: str) -> str:
        accepted = client_api.client.post({"event": "Mention", "to": {"inapp": "user-42"}}, key=key)
        return str(accepted.json()["request_id"])

    return post


def inbox(stack: Stack) -> list[dict[str, Any]]:
    return list_inbox(stack.workspaces[0].workspace, "user-42")


def test_R8_inbox_5xx_is_unknown_and_not_written_again(
    inapp: Callable[[str], str], stack: Stack, sender: SenderDriver, status: StatusApiClient
) -> None:
    request_id = inapp("inbox-5xx")

    with aws_error("dynamodb", "PutItem", DYNAMODB_INTERNAL_ERROR, table=stack.resources.tables["InboxTable"]) as puts:
        sender.drain()

    assert len(puts) == DYNAMODB_ATTEMPTS  # botocore's own retries, each the same item; then no more
    notification = shown(status, request_id)
    assert (notification["state"], notification["provider"]) == ("unknown", "inbox")
    assert inbox(stack) == []


def test_R8_inbox_throttled_is_retried_through_sqs_and_written_once(
    inapp: Callable[[str], str], stack: Stack, sender: SenderDriver, status: StatusApiClient
) -> None:
    request_id = inapp("inbox-throttled")
    table = stack.resources.tables["InboxTable"]

    with aws_error("dynamodb", "PutItem", THROTTLING, table=table, times=DYNAMODB_ATTEMPTS):
        sender.drain()

    assert len(inbox(stack)) == 1
    notification = shown(status, request_id)
    assert (notification["state"], notification["attempts"]) == ("sent", 2)


def test_R8_delivery_log_down_before_the_provider_call_is_retried_and_sent_once(
    client_api: Api, stack: Stack, sender: SenderDriver, status: StatusApiClient
) -> None:
    request_id = send(client_api, SES, "log-down-before")
    table = stack.resources.tables["DeliveryLogTable"]

    # The claim, the attempt's first write, is a put (notify.dal.delivery_log.claim_delivery).
    with aws_error("dynamodb", "PutItem", THROTTLING, table=table, times=DYNAMODB_ATTEMPTS):
        sender.run_once()  # the attempt cannot be recorded: nothing is sent, the claim is released
    assert sent_emails() == []
    sender.drain()

    assert len(sent_emails()) == 1
    assert shown(status, request_id)["state"] == "sent"


def test_R8_delivery_log_down_after_the_provider_took_it_never_sends_again(
    client_api: Api, stack: Stack, sender: SenderDriver, status: StatusApiClient
) -> None:
    """The put of the outcome cannot reach DynamoDB after the provider took it: the update records it (the claim
    ends `done`), so no copy sends again and the status route shows `sent` at once (when no write of the outcome
    succeeds, the claim stays held: tests/faults/test_redelivery.py)."""
    request_id = send(client_api, SES, "log-down-after")
    [message] = stack.queued_messages()
    table = stack.resources.tables["DeliveryLogTable"]
    writes: list[dict[str, Any]] = []

    def outcome_write_fails(**_: Any) -> None:
        writes.append({})
        # The first put claims (creates the item with the attempt), the second replaces it with the outcome
        # (notify.dal.delivery_log: claim_delivery, record_outcome).
        if len(writes) > 1:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    with fail_call("dynamodb", "PutItem", table=table, action=outcome_write_fails):
        sender.drain()
    assert (shown(status, request_id)["state"], shown(status, request_id)["attempts"]) == ("sent", 1)
    sender.requeue(message)
    sender.drain()

    assert len(sent_emails()) == 1
    notification = shown(status, request_id)
    assert (notification["state"], notification["attempts"], notification["provider"]) == ("sent", 1, "ses")


def test_R8_sender_claim_answer_lost_and_retried_by_botocore_sends_once(
    client_api: Api, sender: SenderDriver, status: StatusApiClient, provider: Provider
) -> None:
    """The claim's put was written but its answer was lost (a read timeout after sending); botocore sends it again,
    and the retry is refused by the item the first try wrote: the sender's own claim, its token. It holds the claim
    and delivers, once, instead of taking its own claim for another delivery's (never sent, `unknown`)."""
    request_id = send(client_api, provider, f"claim-answer-lost-{provider.name}")

    with transport_failure("dynamodb", "PutItem", read_timeout, accepted=True, times=1) as failed:
        sender.drain()

    assert len(failed) == 1
    assert len(provider.delivered()) == 1
    notification = shown(status, request_id)
    assert (notification["state"], notification["attempts"]) == ("sent", 1)
