"""`python -m local` as a subprocess on free loopback ports, spoken to over real HTTP (the integration,
fuzz, stress and sam_local suites' world)."""

from __future__ import annotations

import http.client
import json
import subprocess  # nosec B404 - our own interpreter, fixed arguments
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest

from local import process
from local.dynamodb_local import unavailable_reason
from local.process import LocalStackNotReady, free_port, local_stack_environment

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "integration" / "fixtures"
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


def http_request(
    port: int, method: str, path: str, body: bytes | str | None = None, headers: dict[str, str] | None = None
) -> HttpResult:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
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


# The workspaces and keys `make run` seeds (local/seed.py), and what a client sees of them over HTTP.
WORKSPACE_1, API_KEY_1 = "WSLOCAL0001", "local-key-0001-aaaaaaaaaaaaaaaaaaaa"
WORKSPACE_2, API_KEY_2 = "WSLOCAL0002", "local-key-0002-bbbbbbbbbbbbbbbbbbbb"
QUEUE = "NotificationQueue"
INVALID_API_DETAILS = {"_message": "Invalid API details", "status": "error"}


class LocalStackProcess(process.LocalStackProcess):
    """The shared launcher (local.process) with what the tests ask of a running stack."""

    sam_env_file: Path | None = None

    def request(
        self, method: str, path: str, body: bytes | str | None = None, headers: dict[str, str] | None = None
    ) -> HttpResult:
        return http_request(self.api_port, method, path, body, headers)

    def call(
        self,
        method: str,
        route: str,
        body: Any = None,
        *,
        workspace: str = WORKSPACE_1,
        version: str = "live",
        key: str | None = None,
        api_key: str = API_KEY_1,
    ) -> HttpResult:
        """`method` on `/v1/<workspace>/<version>/<route>` as a client calls it: JSON `body` (a str is sent as is),
        the API key, and `key` as the Idempotency-Key."""
        payload = body if body is None or isinstance(body, str) else json.dumps(body)
        return self.request(method, f"/v1/{workspace}/{version}/{route}", payload, headers(key, api_key=api_key))

    def outbox(self, path: str) -> HttpResult:
        """GET a page of the outbox (local/outbox), on its own port."""
        return http_request(self.outbox_port, "GET", path)

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

    def admin(self, *arguments: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """`python -m notify_admin` against this stack's moto, in its own process; it does not check the exit."""
        return subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
            [sys.executable, "-m", "notify_admin", "--endpoint-url", self.moto_url, *arguments],
            cwd=ROOT,
            env=local_stack_environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

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


@contextmanager
def on_dynamodb_local(stop_timeout: float = 20, **overrides: str) -> Iterator[tuple[LocalStackProcess, str]]:
    """`python -m local` on AWS's DynamoDB Local (LOCAL_DYNAMODB=dynamodb-local: conditional writes and DynamoDB's
    size limits are DynamoDB's own), SQS, SES and SNS on moto; skips the test where DynamoDB Local cannot run.
    Yields the stack and DynamoDB Local's endpoint; the stack must stop cleanly."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"DynamoDB Local cannot run here: {reason}")
    port = free_port()
    # The workers import `notify` from this tree's layer, whatever the virtualenv's .pth points at.
    environment = {
        "LOCAL_DYNAMODB": "dynamodb-local",
        "LOCAL_DYNAMODB_PORT": str(port),
        "PYTHONPATH": str(ROOT / "layers"),
    }
    stack = start_local_stack("local", READY_TIMEOUT_SECONDS, **environment, **overrides)
    yield stack, f"http://127.0.0.1:{port}"
    assert stack.stop(timeout=stop_timeout) == 0, f"local stack did not stop cleanly; log: {stack.log_path}"


def headers(key: str | None = None, api_key: str = API_KEY_1) -> dict[str, str]:
    sent = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    if key is not None:
        sent["Idempotency-Key"] = key
    return sent


def emails_to(stack: LocalStackProcess, address: str) -> list[dict[str, Any]]:
    """Emails moto's SES accepted for `address`."""
    with urllib.request.urlopen(f"{stack.moto_url}/moto-api/data.json", timeout=10) as response:  # noqa: S310
        data = json.load(response)
    return [m for m in data["ses"].get("Message", []) if address in m["destinations"].get("ToAddresses", [])]


def status_of(
    stack: LocalStackProcess, request_id: str, workspace: str = WORKSPACE_1, api_key: str = API_KEY_1
) -> HttpResult:
    return stack.request("GET", f"/v1/{workspace}/live/request/{request_id}", headers=headers(api_key=api_key))


def notification_states(stack: LocalStackProcess, request_id: str) -> list[str]:
    result = status_of(stack, request_id)
    return [n["state"] for n in result.json()["notifications"]] if result.status == 200 else []


def assert_replayed(result: HttpResult, first: HttpResult) -> None:
    assert result.status == first.status
    assert result.body == first.body
    assert result.headers.get("idempotency-replayed") == "true"


def assert_executed(result: HttpResult) -> None:
    assert result.status == 202, result.text
    assert "idempotency-replayed" not in result.headers
