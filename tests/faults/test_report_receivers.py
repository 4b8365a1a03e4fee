"""Report receivers that misbehave (docs/contract.md section 8): one that reads the report and then times out, one
that answers 500, one that hangs without reading. Each report is retried later with the same webhook-id, no
invocation outlives its deadline, and no delivery waits for any of them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from notify.logic.reports import retry_delay_seconds, webhook_id
from tests.support.clients import EventApiClient, StatusApiClient, welcome
from tests.support.reports import Receiver, ReporterDriver, add_endpoint, verify_signature
from tests.support.sender import SenderDriver
from tests.support.stack import sent_emails

WORKSPACE = "WSLOCAL0001"


@pytest.fixture(params=["slow", "500", "hang"])
def failing(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    served = Receiver(mode=request.param, slow_seconds=2.0)
    yield served
    served.close()


def test_a_failing_receiver_never_delays_the_delivery(
    client: EventApiClient, sender: SenderDriver, reporter: ReporterDriver, failing: Receiver, status: StatusApiClient
) -> None:
    add_endpoint(WORKSPACE, "crm", failing.url, default=True)
    accepted = client.post({**welcome(), "callback": {"custom_id": "c-1"}})

    started = time.monotonic()
    sender.drain()
    assert time.monotonic() - started < 2.0  # the sender only queues the report; it never calls the receiver
    assert len(sent_emails()) == 1
    [shown] = status.get(accepted.json()["request_id"]).json()["notifications"]
    assert shown["state"] == "sent"
    assert [m["report"]["status"] for m in reporter.queued()] == ["sent"]


def test_a_failing_receiver_is_retried_later_with_the_same_webhook_id(
    client: EventApiClient, sender: SenderDriver, reporter: ReporterDriver, failing: Receiver
) -> None:
    secret = add_endpoint(WORKSPACE, "crm", failing.url, default=True)
    msg_id = client.post({**welcome(), "callback": {"custom_id": "c-2"}}).json()["response"]["email"]["msg_id"]
    sender.drain()

    for _ in range(3):
        started = time.monotonic()
        assert reporter.run_once() == 1
        assert time.monotonic() - started < 2.0  # bounded by the 0.5 s receiver timeout, not the receiver

    assert reporter.delays == [retry_delay_seconds(1), retry_delay_seconds(2), retry_delay_seconds(3)]
    assert [m["webhook_id"] for m in reporter.queued()] == [webhook_id(msg_id, "sent")]
    if failing.mode != "hang":  # a hung receiver never read them
        assert len(failing.received) == 3
        assert {r.headers["webhook-id"] for r in failing.received} == {webhook_id(msg_id, "sent")}
        assert all(verify_signature(secret, r) for r in failing.received)


def test_a_report_taken_after_a_timeout_is_sent_again_and_the_receiver_can_deduplicate(
    client: EventApiClient, sender: SenderDriver, reporter: ReporterDriver
) -> None:
    """The receiver read the report and answered too late: it may have processed it, yet it gets it again (at
    least once), with the same webhook-id."""
    receiver = Receiver(mode="slow", slow_seconds=1.0)
    try:
        add_endpoint(WORKSPACE, "crm", receiver.url, default=True)
        client.post({**welcome(), "callback": {"custom_id": "c-3"}})
        sender.drain()
        reporter.run_once()
        receiver.mode = "ok"
        reporter.run_once()
        assert reporter.queued() == []
        ids = [r.headers["webhook-id"] for r in receiver.received]
        assert len(ids) == 2 and len(set(ids)) == 1
    finally:
        receiver.close()
