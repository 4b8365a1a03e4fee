"""Fault-injection suite: the unit suite's in-process moto stack, with AWS failing on purpose.

Faults are botocore event hooks on the product's own clients (tests/unit/faults.py, aws_errors.py);
the product's code is never patched. Every test checks what the client got, what the idempotency
table holds, and what the senders delivered (SenderDriver plays SQS, moto's SES counts the emails).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.retries.standard import ExponentialBackoff
from freezegun import freeze_time

from tests.unit import conftest as unit
from tests.unit.conftest import (
    ApiClient,
    AutomationApiClient,
    BulkApiClient,
    EventApiClient,
    SenderDriver,
    Stack,
    receipts_in,
    sent_emails,
)

# The unit suite's fixtures: moto with the template's resources, the Sender's driver, the status route.
stack = unit.stack
sender = unit.sender
status = unit.status

# Powertools' parser package builds pydantic models on first attribute access; freezegun's module scan
# would build them around its fake datetime class. Nothing there reads the clock.
LAZY_MODELS = ["aws_lambda_powertools.utilities.parser"]
# The onboarding automation's second step is queued with this delay (local/seed.py).
LONGEST_SEED_DELAY = timedelta(seconds=60)


@pytest.fixture(autouse=True)
def no_retry_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore still retries throttling and 5xx answers as configured, without sleeping between attempts."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


@dataclass
class Api:
    """One of the three POST APIs, with a body for a recipient and the notifications that body makes."""

    name: str
    client: ApiClient
    body: Callable[[str], Any]
    emails_per_request: int  # notifications one accepted request makes, all email

    def msg_ids(self, answer: dict[str, Any]) -> list[str]:
        """Every msg_id an accepted response names, sorted."""
        return sorted(receipt["msg_id"] for receipt in receipts_in(answer))

    def records(self, stack: Stack) -> list[dict[str, Any]]:
        """This API's idempotency records (the senders keep theirs, prefixed `send#`, in the same table)."""
        return [item for item in stack.idempotency_items() if item["id"]["S"].startswith(f"{self.name}#")]


def event_body(email: str) -> dict[str, Any]:
    return {"event": "Welcome_Email", "to": {"email": email}, "data": {"name": "Rahul"}}


def bulk_body(email: str) -> dict[str, Any]:
    local, domain = email.split("@")
    recipients = [f"{local}+{n}@{domain}" for n in range(3)]
    return {"event": "Welcome_Email", "batch": [{"to": {"email": r}, "data": {"name": "R"}} for r in recipients]}


def automation_payload(email: str) -> dict[str, Any]:
    # No phone: both onboarding steps (Welcome_Email now, OrderConfirmed a minute later) go by email only.
    return {"email": email, "name": "Rahul", "order": {"id": "A-1", "amount": "1 EUR"}}


@pytest.fixture(params=["event", "bulk", "automation"])
def api(request: pytest.FixtureRequest, stack: Stack) -> Api:
    workspace = stack.workspaces[0]
    if request.param == "event":
        return Api("event", EventApiClient(workspace), event_body, 1)
    if request.param == "bulk":
        return Api("bulk", BulkApiClient(workspace), bulk_body, 3)
    return Api("automation", AutomationApiClient(workspace), automation_payload, 2)


def deliver_all(sender: SenderDriver) -> None:
    """Let the senders run until the queue is empty, with the clock past every delay a step was queued with."""
    with freeze_time(datetime.now(UTC) + LONGEST_SEED_DELAY + timedelta(seconds=1), ignore=LAZY_MODELS):
        sender.drain()


def delivered() -> Counter[tuple[str, str]]:
    """(recipient, subject) of every email SES accepted, counted."""
    return Counter((email.destinations["ToAddresses"][0], email.subject) for email in sent_emails())


def assert_delivered_at_most_once(expected: int) -> None:
    """R8: `expected` distinct notifications went out, none of them twice."""
    counts = delivered()
    assert all(count == 1 for count in counts.values()), f"delivered twice: {counts}"
    assert sum(counts.values()) == expected


def recorded_response(record: dict[str, Any]) -> dict[str, Any]:
    """The response an idempotency record holds (status code, headers, body)."""
    return dict(json.loads(record["data"]["S"]))


@pytest.fixture
def clock() -> Iterator[Any]:
    """A frozen clock the test moves forward explicitly (never sleeps)."""
    with freeze_time(datetime.now(UTC), ignore=LAZY_MODELS) as frozen:
        yield frozen


@pytest.fixture
def client_api(stack: Stack) -> Api:
    """The Event API alone, for faults of the senders (the API side is the same for all three)."""
    return Api("event", EventApiClient(stack.workspaces[0]), event_body, 1)
