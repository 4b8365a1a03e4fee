"""SQS delivering a message more than once (it is at-least-once), and the senders' own store failing:
each msg_id is still delivered at most once (R8).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import EndpointConnectionError

from tests.support.clients import StatusApiClient
from tests.support.faults import (
    PROVISIONED_THROUGHPUT_EXCEEDED,
    THROTTLING,
    SimulatedLambdaTimeout,
    aws_error,
    fail_call,
)
from tests.support.scenarios import Api, assert_delivered_at_most_once, deliver_all, delivered, recorded_response
from tests.support.sender import SenderDriver
from tests.support.stack import Stack


def send_records(stack: Stack) -> list[dict]:
    """The senders' msg_id guards: the notifications' delivery items (notify.dal.delivery_log.claim_delivery)."""
    return stack.send_guards()


def test_R8_the_same_message_delivered_twice_at_once_sends_once(api: Api, stack: Stack, sender: SenderDriver) -> None:
    accepted = api.client.post(api.body("a@example.com"), key="twice")
    for message in stack.queued_messages():
        sender.requeue(message)  # SQS hands out a second copy while the first is still waiting

    deliver_all(sender)

    assert accepted.status == 202
    assert_delivered_at_most_once(api.emails_per_request)
    assert len(send_records(stack)) == api.emails_per_request
    assert {record["guard"]["S"] for record in send_records(stack)} == {"done"}
    [record] = api.records(stack)
    assert recorded_response(record)["body"] == accepted.body


def test_R8_the_same_message_delivered_again_after_it_was_sent_sends_nothing(
    api: Api, stack: Stack, sender: SenderDriver
) -> None:
    api.client.post(api.body("a@example.com"), key="again")
    first_copies = stack.queued_messages()
    deliver_all(sender)
    before = delivered()

    for message in first_copies:
        sender.requeue(message)
    deliver_all(sender)

    assert delivered() == before
    assert_delivered_at_most_once(api.emails_per_request)


def test_R8_the_same_msg_id_from_a_replayed_request_is_never_queued_again(
    api: Api, stack: Stack, sender: SenderDriver
) -> None:
    first = api.client.post(api.body("a@example.com"), key="replayed")
    deliver_all(sender)
    replayed = api.client.post(api.body("b@example.com"), key="replayed")  # a changed payload replays too

    assert (replayed.body, replayed.headers["idempotency-replayed"]) == (first.body, "true")
    assert stack.queued_messages() == []
    deliver_all(sender)
    assert_delivered_at_most_once(api.emails_per_request)
    assert all(recipient.startswith("a") for recipient, _ in delivered())


def test_R8_sender_claim_throttled_is_redelivered_by_sqs_and_sent_once(
    client_api: Api, stack: Stack, sender: SenderDriver, status: StatusApiClient
) -> None:
    accepted = client_api.client.post(client_api.body("a@example.com"), key="sender-throttled").json()
    table = stack.resources.tables["DeliveryLogTable"]

    with aws_error("dynamodb", "PutItem", PROVISIONED_THROUGHPUT_EXCEEDED, table=table) as claims:
        sender.run_once()  # the sender cannot claim the msg_id: the message goes back to the queue

    assert claims and delivered() == {}
    # Nothing holds the msg_id: the failure was recorded with the claim released (the next copy may claim it).
    assert [record["guard"]["S"] for record in send_records(stack)] == ["released"]
    deliver_all(sender)
    assert_delivered_at_most_once(1)
    [shown] = status.get(accepted["request_id"]).json()["notifications"]
    assert (shown["state"], shown["attempts"]) == ("sent", 1)


def test_R8_sender_completion_throttled_after_ses_accepted_never_sends_again(
    client_api: Api, stack: Stack, sender: SenderDriver, status: StatusApiClient
) -> None:
    """SES took the email but the sender could not replace its claimed item with the outcome (the put that ends the
    claim cannot reach DynamoDB): the update records it instead, so a copy SQS delivers again is not sent and the status
    route shows `sent`."""
    accepted = client_api.client.post(client_api.body("a@example.com"), key="sender-no-completion").json()
    [message] = stack.queued_messages()
    table = stack.resources.tables["DeliveryLogTable"]
    puts: list[dict[str, Any]] = []

    def outcome_put_throttled(**_: Any) -> None:
        puts.append({})
        if len(puts) > 1:  # the first put is the claim
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    with fail_call("dynamodb", "PutItem", table=table, action=outcome_put_throttled):
        sender.run_once()
    sender.requeue(message)
    deliver_all(sender)

    assert_delivered_at_most_once(1)
    [claim] = send_records(stack)
    assert claim["guard"]["S"] == "done"
    [shown] = status.get(accepted["request_id"]).json()["notifications"]
    assert shown["state"] == "sent"


def test_R8_no_outcome_written_after_ses_accepted_keeps_the_claim_and_never_sends_again(
    client_api: Api, stack: Stack, sender: SenderDriver, status: StatusApiClient
) -> None:
    """SES took the email and no write of the outcome succeeds (the put unreachable, the update throttled): the
    claim stays held, so no copy SQS delivers again is sent; the last receive records `unknown` (what the sender
    knows)."""
    accepted = client_api.client.post(client_api.body("a@example.com"), key="sender-no-outcome").json()
    [message] = stack.queued_messages()
    table = stack.resources.tables["DeliveryLogTable"]
    puts: list[dict[str, Any]] = []

    def outcome_put_throttled(**_: Any) -> None:
        puts.append({})
        if len(puts) > 1:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    with (
        fail_call("dynamodb", "PutItem", table=table, action=outcome_put_throttled),
        aws_error("dynamodb", "UpdateItem", THROTTLING, table=table),
    ):
        sender.run_once()
    assert [claim["guard"]["S"] for claim in send_records(stack)] == ["held"]
    sender.requeue(message)
    sender.drain()

    assert_delivered_at_most_once(1)
    [shown] = status.get(accepted["request_id"]).json()["notifications"]
    assert shown["state"] == "unknown"
    assert "interrupted" in shown["reason"]


def test_R8_sender_killed_after_ses_accepted_then_redelivered_sends_once(
    client_api: Api, stack: Stack, sender: SenderDriver
) -> None:
    def time_out(**_: object) -> None:
        raise SimulatedLambdaTimeout()

    client_api.client.post(client_api.body("a@example.com"), key="sender-killed")
    with fail_call("sesv2", "SendEmail", action=time_out, after=True):
        try:
            sender.run_once()
        except SimulatedLambdaTimeout:
            sender.expire_in_flight()  # its visibility timeout passes: SQS delivers the message again

    deliver_all(sender)

    assert_delivered_at_most_once(1)
