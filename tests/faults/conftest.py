"""Fault-injection suite: the in-process moto stack (tests/support), with AWS failing on purpose.

Faults are botocore event hooks on the product's own clients (tests/support/faults.py); the product's code
is never patched. Every test checks what the client got, what the idempotency table holds, and what the
senders delivered (SenderDriver plays SQS, moto's SES counts the emails).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.retries.standard import ExponentialBackoff
from freezegun import freeze_time

from tests.support.scenarios import Api, api_scenario
from tests.support.stack import Stack


@pytest.fixture(autouse=True)
def no_retry_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore still retries throttling and 5xx answers as configured, without sleeping between attempts."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.fixture(params=["event", "bulk", "automation"])
def api(request: pytest.FixtureRequest, stack: Stack) -> Api:
    return api_scenario(request.param, stack.workspaces[0])


@pytest.fixture
def clock() -> Iterator[Any]:
    """A frozen clock the test moves forward explicitly (never sleeps)."""
    with freeze_time(datetime.now(UTC)) as frozen:
        yield frozen


@pytest.fixture
def client_api(stack: Stack) -> Api:
    """The Event API alone, for faults of the senders (the API side is the same for all three)."""
    return api_scenario("event", stack.workspaces[0])
