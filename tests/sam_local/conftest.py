"""`make run-sam` as a fixture: the local stack's moto and seed data, the functions in Lambda containers."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local.sam import DockerUnavailable, containers_of_run, docker_bridge_gateway
from tests.support.local_stack import LocalStackProcess, start_local_stack

# A fresh machine builds the stand-in Lambda image and runs `sam build` before the first `ready`.
READY_TIMEOUT_SECONDS = 900
STOP_TIMEOUT_SECONDS = 120


@pytest.fixture(scope="session")
def sam_stack() -> Iterator[LocalStackProcess]:
    """`python -m local.sam` on free ports, with its SQS event sources invoking the sender through start-lambda."""
    try:
        gateway = docker_bridge_gateway()
    except DockerUnavailable as exc:
        # CI here has Docker (make test starts it): there, a missing engine is a failure, not a skip.
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    stack = start_local_stack("local.sam", READY_TIMEOUT_SECONDS)
    yield stack
    assert stack.stop(STOP_TIMEOUT_SECONDS) == 0, f"run-sam did not stop cleanly; log: {stack.log_path}"
    moto_port = stack.moto_url.rsplit(":", 1)[1]
    assert containers_of_run(f"http://{gateway}:{moto_port}") == [], "run-sam left containers behind"
