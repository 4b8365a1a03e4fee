"""Fuzz fixtures: a local stack of its own, and the OpenAPI document it serves, loaded by schemathesis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from schemathesis.schemas import BaseSchema

from tests.support.local_stack import ROOT, LocalStackProcess, start_local_stack


@pytest.fixture(scope="session")
def fuzz_stack() -> Iterator[LocalStackProcess]:
    """`python -m local` with its queue consumers off: fuzzed requests are accepted and queued, never sent.

    Its own stack, so the idempotency table holds only what the fuzzer's requests stored. PYTHONPATH names
    this checkout's layer, whatever checkout the virtualenv's path file points at.
    """
    stack = start_local_stack(LOCAL_SQS_EVENT_SOURCES="off", PYTHONPATH=str(ROOT / "layers"))
    yield stack
    assert stack.stop() == 0, f"local stack did not stop cleanly; log: {stack.log_path}"


@pytest.fixture(scope="session")
def served_schema(fuzz_stack: LocalStackProcess) -> BaseSchema:
    """The document as the stack serves it at GET /v1/openapi.json (no API key)."""
    schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{fuzz_stack.api_port}/v1/openapi.json")
    # Random (fuzzing) inputs in both modes, valid and invalid; the coverage phase's systematic boundary
    # cases are several hundred requests per route, which would not fit the minute this run is allowed.
    schema.config.phases.coverage.enabled = False
    return schema
