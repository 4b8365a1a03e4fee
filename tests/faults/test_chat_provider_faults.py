"""Chat webhooks and the Slack Web API failing at the edges real providers produce (R8, docs/contract.md section 4).

The sender's real HTTPS opener talks to a server on loopback that presents a certificate for the
providers' hosts (the guard's checked address is swapped for 127.0.0.1 at the last moment, since the
guard rightly refuses loopback). The server can answer, hang after reading the request, drop the
connection, or not listen at all; it counts the requests it received, which is what a recipient sees.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from notify.dal.definitions import put_event_definition
from notify.dal.provider_secrets import put_provider_settings
from notify.logic.providers.webhooks import CheckedUrl, HttpClient, HttpResponse, PinnedHttpsOpener
from notify.models.definitions import EventDefinition
from notify.models.delivery import ProviderSettings
from notify.settings import get_settings
from tests.support.clients import EventApiClient, StatusApiClient
from tests.support.sender import SenderDriver
from tests.support.stack import Stack
from tests.support.tls import self_signed_certificate

HOSTS = ("hooks.slack.com", "slack.com", "discord.com")
PUBLIC_ADDRESS = "162.159.135.232"  # what the guard is told the hosts resolve to
WEBHOOK = "https://hooks.slack.com/services/T000/B000/XXXX"
SLACK_CHANNEL = "C0123456789"


@dataclass
class Script:
    """What the server does with each request, in order (the last step repeats): an HTTP status and body,
    "hang" (read the request, never answer) or "drop" (read the request, close the connection)."""

    steps: list[Any] = field(default_factory=lambda: [(200, b"ok")])
    received: list[tuple[str, bytes]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def next(self) -> Any:
        return self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]


@dataclass
class Provider:
    """The loopback provider: its script, and an HttpClient whose real opener connects to it."""

    script: Script
    port: int
    cert: Path

    def http(self, timeout: float = 2.0, port: int | None = None) -> HttpClient:
        opener = PinnedHttpsOpener(ssl.create_default_context(cafile=str(self.cert)))
        target = port or self.port

        def to_loopback(
            url: CheckedUrl, method: str, body: bytes | None, headers: dict[str, str], timeout: float
        ) -> HttpResponse:
            return opener(replace(url, addresses=("127.0.0.1",), port=target), method, body, headers, timeout)

        return HttpClient(opener=to_loopback, resolver=lambda host, port: [PUBLIC_ADDRESS], timeout=timeout)

    @property
    def hits(self) -> int:
        return len(self.script.received)


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[Provider]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            script.received.append((self.path, body))
            step = script.next()
            if step == "hang":
                script.release.wait(10)
                return
            if step == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            status, payload = step
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    cert, key = self_signed_certificate(HOSTS, tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Provider(script, server.server_address[1], cert)
    script.release.set()
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def chat(stack: Stack) -> EventApiClient:
    definition = EventDefinition.model_validate({"name": "Deploy", "channels": {"slack": {"body": "Deployed"}}})
    put_event_definition(stack.workspaces[0].workspace, definition)
    return EventApiClient(stack.workspaces[0])


def post(chat: EventApiClient, destination: str, key: str) -> str:
    accepted = chat.post({"event": "Deploy", "to": {"slack": destination}}, key=key)
    assert accepted.status == 202, accepted.body
    return str(accepted.json()["request_id"])


def shown(status: StatusApiClient, request_id: str) -> dict[str, Any]:
    [notification] = status.get(request_id).json()["notifications"]
    return dict(notification)


def redeliver_everything(stack: Stack, sender: SenderDriver, messages: list[dict[str, Any]]) -> None:
    """SQS hands out another copy of each message, after the first were done."""
    for message in messages:
        sender.requeue(message)
    sender.drain()


@pytest.mark.parametrize(("step", "cause"), [("hang", "TimeoutError"), ("drop", "RemoteDisconnected")])
def test_R8_webhook_without_an_answer_after_the_request_was_sent_is_unknown_and_never_posted_again(
    chat: EventApiClient,
    stack: Stack,
    sender: SenderDriver,
    status: StatusApiClient,
    provider: Provider,
    step: str,
    cause: str,
) -> None:
    provider.script.steps = [step]
    sender.use_http(provider.http(timeout=0.3))
    request_id = post(chat, WEBHOOK, f"webhook-{step}")
    messages = stack.queued_messages()

    sender.drain()
    redeliver_everything(stack, sender, messages)

    assert provider.hits == 1
    notification = shown(status, request_id)
    assert (notification["state"], notification["attempts"]) == ("unknown", 1)
    assert notification["reason"].startswith(f"hooks.slack.com gave no answer after the request was sent ({cause})")
    assert sender.dead_letters() == []


@pytest.mark.parametrize(
    ("answered", "hits", "state", "attempts", "reason"),
    [
        # A 5xx may have been taken: never posted again (unknown).
        ((503, b"busy"), 1, "unknown", 1, "slack-webhook answered 503"),
        # A 429 was refused, not taken: retried through SQS, and posted once it is taken.
        ((429, b"slow down"), 2, "sent", 2, None),
    ],
    ids=["5xx-unknown", "429-retried"],
)
def test_R8_webhook_5xx_is_unknown_and_429_is_retried_through_sqs_each_posted_once(
    chat: EventApiClient,
    sender: SenderDriver,
    status: StatusApiClient,
    provider: Provider,
    answered: tuple[int, bytes],
    hits: int,
    state: str,
    attempts: int,
    reason: str | None,
) -> None:
    provider.script.steps = [answered, (200, b"ok")]
    sender.use_http(provider.http())
    request_id = post(chat, WEBHOOK, f"webhook-{answered[0]}")

    sender.drain()

    assert provider.hits == hits
    notification = shown(status, request_id)
    assert (notification["state"], notification["attempts"]) == (state, attempts)
    assert notification["provider"] == "slack-webhook"
    assert reason is None or notification["reason"].startswith(reason)


def test_R8_webhook_connection_refused_is_retried_and_never_posted_until_it_connects(
    chat: EventApiClient, sender: SenderDriver, status: StatusApiClient, provider: Provider
) -> None:
    sender.use_http(provider.http(port=closed_port()))
    request_id = post(chat, WEBHOOK, "webhook-refused")

    assert sender.run_once() == 1
    first = shown(status, request_id)
    sender.use_http(provider.http())  # the provider is back
    sender.drain()

    assert first["state"] == "queued"
    assert first["reason"].startswith("hooks.slack.com unreachable: ConnectionRefusedError")
    assert provider.hits == 1
    notification = shown(status, request_id)
    assert (notification["state"], notification["attempts"]) == ("sent", 2)


@pytest.fixture
def slack_token(stack: Stack, sender: SenderDriver) -> str:
    put_provider_settings(stack.workspaces[0].workspace, ProviderSettings.model_validate({"slack_bot_token": "xoxb-1"}))
    return "xoxb-1"


@pytest.mark.usefixtures("slack_token")
def test_R8_slack_ok_answer_longer_than_the_reply_cap_is_sent_once(
    chat: EventApiClient, stack: Stack, sender: SenderDriver, status: StatusApiClient, provider: Provider
) -> None:
    """chat.postMessage echoes the posted message back: with big blocks its answer exceeds what is read."""
    echo = {"text": "Deployed", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}}] * 40}
    answer = {"ok": True, "channel": SLACK_CHANNEL, "ts": "1503435956.000247", "message": echo}
    body = json.dumps(answer).encode()
    assert len(body) > 64 * 1024
    provider.script.steps = [(200, body)]
    sender.use_http(provider.http())
    request_id = post(chat, SLACK_CHANNEL, "slack-long")
    messages = stack.queued_messages()

    sender.drain()
    redeliver_everything(stack, sender, messages)

    assert [path for path, _ in provider.script.received] == ["/api/chat.postMessage"]
    notification = shown(status, request_id)
    assert (notification["state"], notification["attempts"]) == ("sent", 1)
    assert notification["provider_message_id"] == f"{SLACK_CHANNEL}:1503435956.000247"


@pytest.mark.usefixtures("slack_token")
def test_R8_slack_ratelimited_is_retried_and_internal_error_is_unknown(
    chat: EventApiClient, sender: SenderDriver, status: StatusApiClient, provider: Provider
) -> None:
    provider.script.steps = [
        (429, b'{"ok": false, "error": "ratelimited"}'),
        (200, b'{"ok": true, "channel": "C0123456789", "ts": "1.2"}'),
        (200, b'{"ok": false, "error": "internal_error"}'),
    ]
    sender.use_http(provider.http())
    throttled = post(chat, SLACK_CHANNEL, "slack-throttled")
    sender.drain()
    failed_inside = post(chat, "C0999999999", "slack-internal-error")
    sender.drain()

    assert provider.hits == 3
    assert (shown(status, throttled)["state"], shown(status, throttled)["attempts"]) == ("sent", 2)
    notification = shown(status, failed_inside)
    assert (notification["state"], notification["attempts"]) == ("unknown", 1)
    assert notification["reason"].startswith("slack-api refused chat.postMessage: internal_error")


@pytest.mark.usefixtures("slack_token")
def test_R8_slack_lookup_timeout_is_retried_as_it_sends_nothing(
    chat: EventApiClient, sender: SenderDriver, status: StatusApiClient, provider: Provider
) -> None:
    provider.script.steps = [
        "hang",
        (200, b'{"ok": true, "user": {"id": "U024BE7LH"}}'),
        (200, b'{"ok": true, "channel": "D024BE91L", "ts": "1.2"}'),
    ]
    sender.use_http(provider.http(timeout=0.3))
    request_id = post(chat, "ana@example.com", "slack-lookup-hangs")

    sender.drain()

    paths = [path.split("?")[0] for path, _ in provider.script.received]
    assert paths == ["/api/users.lookupByEmail", "/api/users.lookupByEmail", "/api/chat.postMessage"]
    notification = shown(status, request_id)
    assert (notification["state"], notification["attempts"]) == ("sent", 2)


def test_R8_slow_provider_is_bounded_by_the_invocation_and_cannot_sink_the_batch(
    chat: EventApiClient,
    sender: SenderDriver,
    status: StatusApiClient,
    provider: Provider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A webhook that accepts and never answers, a 5 s webhook timeout, 3 s left in the invocation: the
    call gets what is left less the reserve, and the messages after it go back to the queue untouched
    instead of being cut off by the Lambda timeout."""
    monkeypatch.setenv("SENDER_RESERVE_SECONDS", "1.0")
    monkeypatch.setenv("SENDER_MIN_CALL_SECONDS", "0.5")
    get_settings.cache_clear()
    provider.script.steps = ["hang", (200, b"ok")]
    sender.use_http(provider.http(timeout=5.0))
    request_ids = [post(chat, f"https://hooks.slack.com/services/T000/B000/X{n}", f"slow-{n}") for n in range(4)]
    sender.remaining_ms = 3_000

    started = time.monotonic()
    assert sender.run_once() == 4
    elapsed = time.monotonic() - started

    assert elapsed < 3.0  # the invocation ended before Lambda would have killed it
    first = [shown(status, request_id) for request_id in request_ids]
    assert [n["state"] for n in first].count("unknown") == 1
    untouched = [n for n in first if n["state"] != "unknown"]
    assert [(n["state"], n["attempts"], n["reason"]) for n in untouched] == [("queued", 0, None)] * 3
    assert provider.hits == 1

    sender.remaining_ms = 30_000
    sender.drain()

    assert provider.hits == 4
    assert sorted(shown(status, request_id)["state"] for request_id in request_ids) == ["sent"] * 3 + ["unknown"]
