"""DynamoDB misbehaving under the idempotency contract: throttling and 5xx at the claim and at the completion.

The claim is Powertools' conditional PutItem on IdempotencyTable, the completion its UpdateItem.
A claim that fails means nothing executed (R9: 503, nothing stored or sent). A completion that fails
comes after execution: the client still gets its answer, the claim lapses with the invocation, and a
retry executes again with the same ids, so each notification is still delivered once (R8).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.support.faults import (
    DYNAMODB_INTERNAL_ERROR,
    PROVISIONED_THROUGHPUT_EXCEEDED,
    THROTTLING,
    AwsError,
    aws_error,
    queue_refuses,
)
from tests.support.scenarios import Api, assert_delivered_at_most_once, deliver_all, recorded_response
from tests.support.sender import SenderDriver
from tests.support.stack import FakeLambdaContext, Stack

# The first call and the clients' 3 retries (botocore's `max_attempts` counts retries; notify.dal.clients).
ATTEMPTS = 1 + 3
UNAVAILABLE = {"_message": "Service temporarily unavailable; retry later", "status": "error"}


def error_id(error: AwsError) -> str:
    return error.code


@pytest.mark.parametrize("error", [PROVISIONED_THROUGHPUT_EXCEEDED, DYNAMODB_INTERNAL_ERROR], ids=error_id)
def test_R9_claim_throttled_or_5xx_is_503_nothing_is_stored_or_sent_and_the_key_stays_usable(
    api: Api, stack: Stack, sender: SenderDriver, error: AwsError
) -> None:
    table = stack.resources.tables["IdempotencyTable"]
    with aws_error("dynamodb", "PutItem", error, table=table) as claims:
        refused = api.client.post(api.body("a@example.com"), key="claim-down")

    assert len(claims) == ATTEMPTS  # botocore retried the claim before giving up
    assert refused.status == 503
    assert refused.headers["retry-after"] == "2"
    assert refused.json() == UNAVAILABLE
    assert "idempotency-replayed" not in refused.headers
    assert stack.idempotency_items() == []
    assert stack.queued_messages() == []

    accepted = api.client.post(api.body("a@example.com"), key="claim-down")  # the store is back
    replayed = api.client.post(api.body("a@example.com"), key="claim-down")

    assert accepted.status == 202 and "idempotency-replayed" not in accepted.headers
    assert (replayed.status, replayed.body, replayed.headers["idempotency-replayed"]) == (202, accepted.body, "true")
    [record] = api.records(stack)
    assert record["status"]["S"] == "COMPLETED"
    assert recorded_response(record)["body"] == accepted.body
    deliver_all(sender)
    assert_delivered_at_most_once(api.emails_per_request)


@pytest.mark.parametrize("error", [PROVISIONED_THROUGHPUT_EXCEEDED, DYNAMODB_INTERNAL_ERROR], ids=error_id)
def test_R8_completion_throttled_or_5xx_answers_and_a_retry_after_the_claim_lapses_delivers_once(
    api: Api, stack: Stack, sender: SenderDriver, error: AwsError, clock: Any
) -> None:
    table = stack.resources.tables["IdempotencyTable"]
    with aws_error("dynamodb", "UpdateItem", error, table=table) as completions:
        first = api.client.post(api.body("a@example.com"), key="no-completion", context=FakeLambdaContext(2_000))

    assert len(completions) == ATTEMPTS
    assert first.status == 202  # it executed: the client gets its answer even though it was not stored
    [held] = api.records(stack)
    assert held["status"]["S"] == "INPROGRESS"
    assert "data" not in held
    held_again = api.client.post(api.body("a@example.com"), key="no-completion")
    assert held_again.status == 409  # until the invocation that holds the claim would have timed out

    clock.tick(timedelta(seconds=3))
    retried = api.client.post(api.body("a@example.com"), key="no-completion")

    assert retried.status == 202 and "idempotency-replayed" not in retried.headers
    # Same key, same answer, byte for byte: the client that got `first` and retried cannot tell (R4),
    # received_time included (the first claim's, kept in the record; the retry came 3 s later).
    assert retried.body == first.body
    [completed] = api.records(stack)
    assert completed["status"]["S"] == "COMPLETED"
    assert recorded_response(completed)["body"] == retried.body
    assert len(stack.queued_messages()) == 2 * api.emails_per_request  # each notification queued twice
    deliver_all(sender)
    assert_delivered_at_most_once(api.emails_per_request)


@pytest.mark.parametrize(("operation", "step"), [("PutItem", "claim"), ("UpdateItem", "completion")])
def test_R3_claim_or_completion_throttled_once_is_retried_by_botocore_stored_and_executed_once(
    api: Api, stack: Stack, sender: SenderDriver, operation: str, step: str
) -> None:
    table = stack.resources.tables["IdempotencyTable"]
    with aws_error("dynamodb", operation, THROTTLING, table=table, times=1) as failed:
        first = api.client.post(api.body("a@example.com"), key=f"{step}-blip")
    replayed = api.client.post(api.body("a@example.com"), key=f"{step}-blip")

    assert len(failed) == 1
    assert first.status == 202 and "idempotency-replayed" not in first.headers
    assert (replayed.body, replayed.headers["idempotency-replayed"]) == (first.body, "true")
    [record] = api.records(stack)
    assert record["status"]["S"] == "COMPLETED"
    assert recorded_response(record)["body"] == first.body
    deliver_all(sender)
    assert_delivered_at_most_once(api.emails_per_request)


def test_D6_a_request_the_status_route_cannot_find_is_503_not_202_and_its_retry_records_it(
    api: Api, stack: Stack, sender: SenderDriver, clock: Any
) -> None:
    # Issue 18, case 5: the completion's transaction cancelled by its manifest item, and the manifest's own
    # write refused too, used to answer (and store) 202 with a status route answering 404 for good.
    log = stack.resources.tables["DeliveryLogTable"]
    missing = AwsError(400, "ResourceNotFoundException")
    with aws_error("dynamodb", "PutItem", missing, table=log), aws_error("dynamodb", "BatchWriteItem", missing):
        first = api.client.post(api.body("a@example.com"), key="unrecorded", context=FakeLambdaContext(2_000))

    assert first.status == 503, first.body
    assert first.headers["retry-after"] == "2"
    [held] = api.records(stack)
    assert held["status"]["S"] == "INPROGRESS"  # nothing stored: the retry executes again

    clock.tick(timedelta(seconds=3))
    retried = api.client.post(api.body("a@example.com"), key="unrecorded")

    assert retried.status == 202 and "idempotency-replayed" not in retried.headers
    from tests.support.clients import StatusApiClient

    for request_id in _request_ids(retried.json()):
        assert StatusApiClient(stack.workspaces[0]).get(request_id).status == 200
    deliver_all(sender)
    assert_delivered_at_most_once(api.emails_per_request)


def _request_ids(answer: dict[str, Any]) -> list[str]:
    """The ids the status route answers for: each bulk item's, or the request's own."""
    if isinstance(answer.get("response"), list):
        return [item["request_id"] for item in answer["response"]]
    return [answer["request_id"]]


@pytest.mark.parametrize("error", [PROVISIONED_THROUGHPUT_EXCEEDED], ids=error_id)
def test_R4_a_re_execution_the_queue_refuses_is_503_keeps_the_claim_and_the_next_retry_answers_the_first_202(
    api: Api, stack: Stack, sender: SenderDriver, error: AwsError, clock: Any
) -> None:
    # make soak, seed 2026 scenario 7764: the first execution answered a 202 it could not store (its notifications
    # were queued); an hour later its retry re-executed while SQS refused everything and stored a 500 "could not be
    # queued": a second, different answer for one key, about notifications that were in fact queued.
    table = stack.resources.tables["IdempotencyTable"]
    with aws_error("dynamodb", "UpdateItem", error, table=table):
        first = api.client.post(api.body("a@example.com"), key="re-queued", context=FakeLambdaContext(2_000))
    assert first.status == 202
    queued_first = len(stack.queued_messages())

    clock.tick(timedelta(hours=1))
    with queue_refuses("@example.com"):
        refused = api.client.post(api.body("a@example.com"), key="re-queued", context=FakeLambdaContext(2_000))

    assert refused.status == 503 and refused.headers["retry-after"] == "2"
    assert refused.json() == UNAVAILABLE and "idempotency-replayed" not in refused.headers
    [held] = api.records(stack)
    assert held["status"]["S"] == "INPROGRESS" and "data" not in held  # kept, nothing stored
    assert len(stack.queued_messages()) == queued_first

    clock.tick(timedelta(seconds=3))  # the kept claim lapses with the invocation that held it
    retried = api.client.post(api.body("a@example.com"), key="re-queued")

    assert retried.status == 202 and retried.body == first.body
    [completed] = api.records(stack)
    assert completed["status"]["S"] == "COMPLETED"
    deliver_all(sender)
    assert_delivered_at_most_once(api.emails_per_request)
