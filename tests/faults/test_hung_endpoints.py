"""Stores and queues that hang instead of refusing (R3, R9): real sockets, real read timeouts.

moto server runs on loopback behind a proxy that holds chosen requests without ever answering, as a
DynamoDB partition or an SQS endpoint that accepted the connection and went silent. The handler gets a
Lambda context with a real deadline; its answer must come, in the product's own shape, before it.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from local.container import reset_container_state
from local.moto_backend import MotoServer, MotoSession
from local.seed import seed_demo_data
from local.template import LocalResources, create_resources, function_environment
from local.worker import LocalLambdaContext
from tests.support.clients import EventApiClient, HttpResult, welcome

REGION = "us-east-1"
Hang = Callable[[str, dict[str, Any]], bool]  # (X-Amz-Target, JSON body) -> hold this request?


class HangingProxy:
    """Forwards requests to moto server, except those `hang` picks: read, then never answered."""

    def __init__(self, upstream: str) -> None:
        self.hang: Hang = lambda target, body: False
        self.held = 0
        self.released = threading.Event()
        proxy = self
        upstream_host = urlsplit(upstream).netloc

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                target = self.headers.get("X-Amz-Target", "")
                try:
                    parsed = json.loads(body) if body else {}
                except ValueError:
                    parsed = {}
                if proxy.hang(target, parsed):
                    proxy.held += 1
                    proxy.released.wait(timeout=60)
                    self.close_connection = True
                    return
                upstream_connection = http.client.HTTPConnection(upstream_host, timeout=30)
                upstream_connection.request("POST", self.path, body=body, headers=dict(self.headers))
                answer = upstream_connection.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class HungStack:
    proxy: HangingProxy
    resources: LocalResources
    session: MotoSession
    client: EventApiClient

    def post(self, body: Any, *, key: str, timeout_seconds: float) -> tuple[HttpResult, float]:
        """One request with `timeout_seconds` left in its invocation; returns the answer and how long it took."""
        context = LocalLambdaContext("EventApiFunction", 512, "req-hung", time.time() + timeout_seconds, REGION)
        started = time.monotonic()
        answer = self.client.post(body, key=key, context=context)  # type: ignore[arg-type]
        return answer, time.monotonic() - started

    def queued(self) -> int:
        url = self.resources.queues["NotificationQueue"]["url"]
        attributes = self.session.client("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"]
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def idempotency_items(self) -> list[dict[str, Any]]:
        table = self.resources.tables["IdempotencyTable"]
        return list(self.session.client("dynamodb").scan(TableName=table)["Items"])


@pytest.fixture
def hung(monkeypatch: pytest.MonkeyPatch) -> Iterator[HungStack]:
    moto = MotoServer(free_port())
    moto.start()
    proxy = HangingProxy(moto.url)
    try:
        # moto's backends live in this process: start from none of another test's resources.
        reset = http.client.HTTPConnection(urlsplit(moto.url).netloc, timeout=10)
        reset.request("POST", "/moto-api/reset")
        reset.getresponse().read()
        session = MotoSession(moto.url, REGION)
        resources = create_resources(session, REGION)
        for name, value in function_environment("EventApiFunction", resources).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        reset_container_state()
        workspaces = seed_demo_data(resources.tables["ApiKeysTable"], resources.tables["DefinitionsTable"])
        yield HungStack(proxy, resources, session, EventApiClient(workspaces[0]))
    finally:
        proxy.close()
        moto.close()
        reset_container_state()


def test_R9_a_hung_idempotency_store_answers_503_before_the_function_times_out(hung: HungStack) -> None:
    table = hung.resources.tables["IdempotencyTable"]
    hung.proxy.hang = lambda target, body: target.endswith(".PutItem") and body.get("TableName") == table
    answer, took = hung.post(welcome(), key="hung-claim", timeout_seconds=6)
    assert hung.proxy.held >= 1
    assert answer.status == 503
    assert answer.json() == {"_message": "Service temporarily unavailable; retry later", "status": "error"}
    assert int(answer.headers["retry-after"]) > 0
    assert took < 6
    assert hung.queued() == 0 and hung.idempotency_items() == []


def test_R3_a_hung_queue_answers_a_stored_500_before_the_function_times_out(hung: HungStack) -> None:
    hung.proxy.hang = lambda target, body: target.endswith(".SendMessageBatch")
    answer, took = hung.post(welcome(), key="hung-queue", timeout_seconds=10)
    assert hung.proxy.held >= 1
    assert answer.status == 500
    assert answer.json()["_message"] == "The notification could not be queued"
    assert took < 10

    hung.proxy.hang = lambda target, body: False
    replay, _ = hung.post(welcome(), key="hung-queue", timeout_seconds=10)
    assert (replay.status, replay.body, replay.headers.get("idempotency-replayed")) == (500, answer.body, "true")
    assert hung.queued() == 0
