"""Integration fixtures: `python -m local` as a subprocess on free loopback ports, spoken to over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.local_stack import FIXTURES, LocalStackProcess, start_local_stack


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStackProcess]:
    """The product's template.yaml. Its SQS consumers are off, so tests can read what the Event API enqueued."""
    stack = start_local_stack(LOCAL_SQS_EVENT_SOURCES="off")
    yield stack
    assert stack.stop() == 0, f"local stack did not stop cleanly; log: {stack.log_path}"


@pytest.fixture(scope="session")
def emulator_stack() -> Iterator[LocalStackProcess]:
    """A test-only template exercising the emulator itself: routes, timeouts, SQS event sources."""
    stack = start_local_stack(
        LOCAL_TEMPLATE=str(FIXTURES / "emulator" / "template.yaml"),
        # A variable of the stack's own environment, which no function may see.
        LOCAL_STACK_ONLY_VARIABLE="leaked",
    )
    yield stack
    assert stack.stop() == 0, f"local stack did not stop cleanly; log: {stack.log_path}"
