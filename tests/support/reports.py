"""Delivery reports under test: a real receiver on 127.0.0.1, its endpoints registered in a workspace, and the
Reporter function driven as Lambda's SQS event source drives it (no sleeping through the backoff)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local.template import function_environment
from notify.dal.callbacks import new_signing_secret, put_endpoint, put_signing_secret
from notify.models.callbacks import CallbackEndpoint
from notify.settings import get_settings
from tests.support.event_source import invoke_with_batch, receive_batch
from tests.support.stack import REGION, Stack, load_function


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST, then answers as `mode` says: `ok` (204), `500`,
    `slow` (reads the request, then answers only after `slow_seconds`), or `hang` (never reads it)."""

    mode: str = "ok"
    slow_seconds: float = 3.0
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.closing = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if receiver.mode == "hang":
                    receiver.closing.wait(30)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                if receiver.mode == "slow":
                    receiver.closing.wait(receiver.slow_seconds)
                status = 500 if receiver.mode == "500" else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/reports"

    def close(self) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


def verify_signature(secret: str, received: Received) -> bool:
    """Standard Webhooks verification, written from the specification (not from the product's code)."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{received.headers['webhook-id']}.{received.headers['webhook-timestamp']}.".encode() + received.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    signatures = [s.split(",", 1)[1] for s in received.headers["webhook-signature"].split(" ") if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


def add_endpoint(workspace: str, name: str, url: str, *, default: bool = False) -> str:
    """Register an endpoint as the admin command does; returns its signing secret."""
    secret = new_signing_secret()
    put_signing_secret(workspace, name, secret)
    put_endpoint(workspace, CallbackEndpoint(name=name, url=url, default=default))
    return secret


class ReporterDriver:
    """Plays Lambda's SQS event source for the Reporter: receive, invoke, delete what succeeded. A failed report's
    visibility is what the function set (`delays`); `run_once` lets that time pass at once."""

    def __init__(self, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, value in function_environment("ReporterFunction", stack.resources).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("LOCAL_LOOPBACK_CALLBACKS", "true")
        monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "0.5")
        get_settings.cache_clear()
        self.stack = stack
        self.module = load_function("reporter")
        self.module.http.cache_clear()
        self.sqs = stack.session.client("sqs", region_name=REGION)
        self.url = stack.resources.queues["ReportQueue"]["url"]
        self.delays: list[int] = []
        import notify.logic.reports as reports

        original = reports.delay_report

        def recorded(receipt_handle: str, seconds: int, queue_url: str | None = None) -> None:
            self.delays.append(seconds)
            original(receipt_handle, seconds, queue_url)

        monkeypatch.setattr(reports, "delay_report", recorded)

    def queued(self) -> list[dict[str, Any]]:
        return [json.loads(m.body) for m in self.stack.queue_contents("ReportQueue")]

    def run_once(self) -> int:
        received = receive_batch(self.sqs, self.url)
        if received:
            queue = self.stack.resources.queues["ReportQueue"]
            invoke_with_batch(self.sqs, queue, received, self.module, "ReporterFunction")
        return len(received)

    def dead_letters(self) -> list[dict[str, Any]]:
        url = self.stack.resources.queues["ReportDLQ"]["url"]
        return [
            json.loads(m["Body"])
            for m in self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        ]
