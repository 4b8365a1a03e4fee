"""Integration fixtures: `python -m local` as a subprocess on free loopback ports, spoken to over real HTTP."""

from __future__ import annotations

import http.client
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest

from local import process
from local.process import LocalStackNotReady, local_stack_environment

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
READY_TIMEOUT_SECONDS = 60
REGION = "us-east-1"

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 20, interval: float = 0.2, message: str = "") -> T:
    """Poll until `condition()` is truthy and return it; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message or condition}")
        time.sleep(interval)


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


class LocalStackProcess(process.LocalStackProcess):
    """The shared launcher (local.process) with what the tests ask of a running stack."""

    sam_env_file: Path | None = None

    def request(
        self, method: str, path: str, body: bytes | str | None = None, headers: dict[str, str] | None = None
    ) -> HttpResult:
        connection = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return HttpResult(
                status=response.status,
                headers={name.lower(): value for name, value in response.getheaders()},
                body=response.read(),
            )
        finally:
            connection.close()

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.moto_url, region_name=REGION)

    def queue_url(self, name: str) -> str:
        return str(self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])

    def drain_queue(self, name: str) -> list[dict[str, Any]]:
        """Receive and delete every visible message; their JSON bodies, in no particular order."""
        sqs = self.client("sqs")
        url = self.queue_url(name)
        bodies: list[dict[str, Any]] = []
        for _ in range(500):
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        pytest.fail(f"queue {name} did not empty")

    def arm_fault(self, **fault: str) -> None:
        result = self.request("POST", "/_local/faults", json.dumps(fault), {"Content-Type": "application/json"})
        assert result.status == 200, result.text

    def disarm_faults(self) -> None:
        assert self.request("DELETE", "/_local/faults").status == 200


def start_local_stack(
    module: str = "local", ready_timeout: float = READY_TIMEOUT_SECONDS, **overrides: str
) -> LocalStackProcess:
    """`python -m local` (or `module`) on free ports, once it printed `ready`."""
    workdir = Path(tempfile.mkdtemp(prefix="local-stack-"))
    # The sam --env-vars file goes to a temporary place, so tests never overwrite a developer's.
    environment = local_stack_environment(LOCAL_SAM_ENV_FILE=str(workdir / "local-env.json"), **overrides)
    stack = LocalStackProcess(environment, workdir / "stack.log", module)
    stack.sam_env_file = workdir / "local-env.json"
    try:
        stack.wait_until_ready(ready_timeout)
    except LocalStackNotReady as exc:
        pytest.fail(str(exc))
    return stack


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
