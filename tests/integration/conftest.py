"""Integration fixtures: `python -m local` as a subprocess on free loopback ports, spoken to over real HTTP."""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 20
REGION = "us-east-1"

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


class LocalStackProcess:
    """A running `python -m local`, its ports, and clients for both."""

    def __init__(self, environment: dict[str, str], log_path: Path) -> None:
        self.api_port = int(environment["API_PORT"])
        self.moto_url = f"http://127.0.0.1:{environment['MOTO_PORT']}"
        self.log_path = log_path
        self.stdout_lines: queue.Queue[str | None] = queue.Queue()
        self.banner: list[str] = []
        self.sam_env_file: Path | None = None
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        threading.Thread(target=self._read_stdout, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.stdout_lines.put(line.rstrip("\n"))
        self.stdout_lines.put(None)

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while True:
            try:
                line = self.stdout_lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                pytest.fail(f"local stack printed no 'ready' line in {READY_TIMEOUT_SECONDS}s; log: {self.log_path}")
            if line is None:
                pytest.fail(f"local stack exited before ready: {self.log_path.read_text()[-3000:]}")
            self.banner.append(line)
            if "ready" in line:
                return

    def stop(self) -> int:
        """SIGTERM, as a terminal's Ctrl-C or a supervisor would; the exit code tells whether it stopped cleanly."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._log.close()

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


def local_stack_environment(**overrides: str) -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "LOCAL_", "API_PORT", "MOTO_PORT", "POWERTOOLS_"))
    }
    environment.update({"API_PORT": str(free_port()), "MOTO_PORT": str(free_port()), **overrides})
    return environment


def start_local_stack(**overrides: str) -> LocalStackProcess:
    workdir = Path(tempfile.mkdtemp(prefix="local-stack-"))
    # The sam --env-vars file goes to a temporary place, so tests never overwrite a developer's.
    environment = local_stack_environment(LOCAL_SAM_ENV_FILE=str(workdir / "local-env.json"), **overrides)
    stack = LocalStackProcess(environment, workdir / "stack.log")
    stack.sam_env_file = workdir / "local-env.json"
    stack.wait_until_ready()
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
