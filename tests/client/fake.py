"""A scripted transport and a fake clock: the client's retry rules, observed without a network or real waiting."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from notify_client import Client, RetryPolicy

WORKSPACE = "WSFAKE0001"
API_KEY = "fake-key-0001-cccccccccccccccccccc"
BASE_URL = "http://notify.invalid"

Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    content = b"" if body is None else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers={"Content-Type": "application/json", **(headers or {})})


ACCEPTED = {"event": "Welcome_Email", "request_id": "0b7d7a3e-9f1c-4a43-8b3b-1c2d3e4f5a6b", "response": {}}


@dataclass
class FakeClock:
    """`clock` and `sleep` for the client: sleeping moves the clock, and every wait is recorded."""

    now: float = 1000.0
    waits: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.waits.append(seconds)
        self.now += seconds


@dataclass
class FakeServer:
    """Answers each request with the next scripted step (the last one repeats) and records what it received."""

    steps: list[Step]
    clock: FakeClock
    # How long each attempt takes on the fake clock (a timeout, say).
    attempt_seconds: float = 0.0
    requests: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        self.clock.now += self.attempt_seconds
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    @property
    def keys(self) -> list[str | None]:
        return [r.headers.get("idempotency-key") for r in self.requests]

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


def fake_client(
    *steps: Step, retry: RetryPolicy | None = None, base_url: str = BASE_URL, attempt_seconds: float = 0.0
) -> tuple[Client, FakeServer, FakeClock]:
    clock = FakeClock()
    server = FakeServer(list(steps), clock, attempt_seconds)
    client = Client(
        WORKSPACE,
        API_KEY,
        base_url=base_url,
        retry=retry,
        transport=httpx.MockTransport(server.handle),
        sleep=clock.sleep,
        clock=clock,
        rng=random.Random(7),
    )
    return client, server, clock
