"""SQS misbehaving at enqueue: execution has started, so whatever the client is answered is stored (R3),
and at most one notification is ever delivered (R8).
"""

from __future__ import annotations

from typing import Any

from tests.support.clients import receipts_in
from tests.support.faults import SQS_SERVICE_UNAVAILABLE, aws_error, fail_call, unreachable
from tests.support.scenarios import Api, assert_delivered_at_most_once, deliver_all, recorded_response
from tests.support.sender import SenderDriver
from tests.support.stack import Stack


def test_R3_queue_answering_5xx_is_a_stored_500_replayed_and_nothing_is_sent(
    api: Api, stack: Stack, sender: SenderDriver
) -> None:
    with aws_error("sqs", "SendMessageBatch", SQS_SERVICE_UNAVAILABLE) as calls:
        first = api.client.post(api.body("a@example.com"), key="queue-down")

    assert calls, "the enqueue was attempted"
    assert first.status == 500
    assert first.json()["status"] == "error"
    assert "could not be queued" in first.json()["_message"]
    [record] = api.records(stack)
    assert record["status"]["S"] == "COMPLETED"
    assert recorded_response(record) == {
        "statusCode": 500,
        "headers": {"Content-Type": "application/json"},
        "body": first.body,
    }

    replayed = api.client.post(api.body("a@example.com"), key="queue-down")  # the queue works again

    assert (replayed.status, replayed.body, replayed.headers["idempotency-replayed"]) == (500, first.body, "true")
    assert stack.queued_messages() == []
    deliver_all(sender)
    assert_delivered_at_most_once(0)


def test_R3_queue_recovering_within_the_products_retries_is_a_202_delivered_once(
    api: Api, stack: Stack, sender: SenderDriver
) -> None:
    # botocore makes 4 attempts per SendMessageBatch; the product retries the batch on top of that.
    with aws_error("sqs", "SendMessageBatch", SQS_SERVICE_UNAVAILABLE, times=4):
        accepted = api.client.post(api.body("a@example.com"), key="queue-blip")

    assert accepted.status == 202
    assert all(item == "ok" for item in statuses(accepted.json()))
    [record] = api.records(stack)
    assert recorded_response(record)["body"] == accepted.body
    deliver_all(sender)
    assert_delivered_at_most_once(api.emails_per_request)


def test_R8_enqueue_answer_lost_after_sqs_accepted_is_a_stored_500_and_sends_once(
    api: Api, stack: Stack, sender: SenderDriver
) -> None:
    """SQS took the messages but the answer never arrived: the product must say 500 (it cannot know),
    and the messages already queued are delivered once, however often the client asks again."""
    with fail_call("sqs", "SendMessageBatch", action=unreachable, after=True):
        first = api.client.post(api.body("a@example.com"), key="answer-lost")

    assert first.status == 500
    [record] = api.records(stack)
    assert recorded_response(record)["body"] == first.body
    replayed = api.client.post(api.body("a@example.com"), key="answer-lost")
    assert (replayed.status, replayed.body) == (500, first.body)
    # The product resent each batch it believed failed: several copies, carrying the same msg_ids.
    queued = stack.queued_messages()
    assert len(queued) > api.emails_per_request
    assert len({message["msg_id"] for message in queued}) == api.emails_per_request

    deliver_all(sender)

    assert_delivered_at_most_once(api.emails_per_request)


def statuses(answer: Any) -> list[str]:
    """The per-notification `status` of every receipt in a 202 body."""
    return [receipt["status"] for receipt in receipts_in(answer)]
