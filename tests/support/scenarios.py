"""The three POST APIs as interchangeable scenarios, and what was delivered for them: the fault suite runs
each fault against every API, and checks R8 (at most once) by what moto's SES accepted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from freezegun import freeze_time

from local.seed import DemoWorkspace
from tests.support.clients import ApiClient, AutomationApiClient, BulkApiClient, EventApiClient, receipts_in
from tests.support.sender import SenderDriver
from tests.support.stack import Stack, sent_emails

# The onboarding automation's second step is queued with this delay (local/seed.py).
LONGEST_SEED_DELAY = timedelta(seconds=60)


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


def deliver_all(sender: SenderDriver) -> None:
    """Let the senders run until the queue is empty, with the clock past every delay a step was queued with."""
    with freeze_time(datetime.now(UTC) + LONGEST_SEED_DELAY + timedelta(seconds=1)):
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


def api_scenario(name: str, workspace: DemoWorkspace) -> Api:
    """The scenario of the API called `name` (event, bulk or automation) for one workspace."""
    if name == "event":
        return Api("event", EventApiClient(workspace), event_body, 1)
    if name == "bulk":
        return Api("bulk", BulkApiClient(workspace), bulk_body, 3)
    return Api("automation", AutomationApiClient(workspace), automation_payload, 2)
