"""Warm in-process latency of the Event API: a new keyed request against a replay of a stored one, and
where a new key's milliseconds go: each AWS call of its path (timed with botocore hooks on the product's
own clients, from before-call to after-call, so retries and parsing are in) and the rest, the product's
own code (routing, auth from cache, validation, building messages, Powertools' idempotency).
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from bench.aws_calls import REQUEST_PATH_SERVICES, WELCOME
from bench.harness import EVENT_API, api_gateway_event, in_process_stack, invoke
from bench.stats import LatencySummary, summarize
from notify.dal.clients import client

# Bounded by count and by time, whichever ends first, so a slow machine still finishes.
NEW_KEY_ITERATIONS = 400
REPLAY_ITERATIONS = 2000
PHASE_SECONDS = 10.0
WARMUP_REQUESTS = 20


class CallTimer:
    """Per request: milliseconds spent in each AWS operation (before-call to after-call)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current: dict[str, float] = defaultdict(float)

    def hook(self) -> None:
        for service in REQUEST_PATH_SERVICES:
            events = client(service).meta.events
            events.register("before-call", self._start, unique_id="bench-timer-start")
            events.register("after-call", self._stop, unique_id="bench-timer-stop")

    def _start(self, context: dict[str, Any], **_: Any) -> None:
        context["bench_started"] = time.perf_counter()

    def _stop(self, event_name: str, context: dict[str, Any], **_: Any) -> None:
        started = context.get("bench_started")
        if started is not None:
            operation = event_name.split(".", 2)[2]
            with self._lock:
                self.current[operation] += (time.perf_counter() - started) * 1000

    def take(self) -> dict[str, float]:
        with self._lock:
            taken, self.current = dict(self.current), defaultdict(float)
        return taken


@dataclass(frozen=True)
class WarmLatency:
    new_key: LatencySummary
    replay: LatencySummary
    # Median ms per request of each AWS operation on a new key's path, and of what is left (product code).
    breakdown_ms: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """How many times slower a new keyed request is than a replay (medians)."""
        return self.new_key.median_ms / self.replay.median_ms

    def as_dict(self) -> dict[str, Any]:
        return {
            "new_key": self.new_key.as_dict(),
            "replay": self.replay.as_dict(),
            "ratio_new_to_replay": round(self.ratio, 1),
            "new_key_breakdown_median_ms": {name: round(ms, 3) for name, ms in self.breakdown_ms.items()},
        }


def _timed_calls(
    make_event: Any, iterations: int, *, replayed: bool = False, timer: CallTimer | None = None
) -> list[float]:
    samples: list[float] = []
    deadline = time.monotonic() + PHASE_SECONDS
    while len(samples) < iterations and time.monotonic() < deadline:
        event = make_event()  # built outside the timed span: only the handler is measured
        started = time.perf_counter()
        response = invoke(EVENT_API, event)
        samples.append(time.perf_counter() - started)
        if timer is not None:
            calls = timer.take()
            timer_samples.append({**calls, "product code": samples[-1] * 1000 - sum(calls.values())})
        if response["statusCode"] != 202:
            raise RuntimeError(f"the Event API answered {response['statusCode']}: {response.get('body')}")
        if replayed != ("Idempotency-Replayed" in response.get("headers", {})):
            raise RuntimeError(f"expected replayed={replayed}, got headers {response.get('headers')}")
    return samples


timer_samples: list[dict[str, float]] = []


def _breakdown(samples: list[dict[str, float]]) -> dict[str, float]:
    names = sorted({name for sample in samples for name in sample}, key=lambda n: (n == "product code", n))
    return {name: statistics.median(sample.get(name, 0.0) for sample in samples) for name in names}


def measure_warm_latency() -> WarmLatency:
    """Both in one warm container (caches filled), against moto in this process."""
    with in_process_stack() as stack:

        def new_key_event() -> dict[str, Any]:
            return api_gateway_event(EVENT_API, stack.workspace, WELCOME, key=f"bench-{uuid.uuid4()}")

        replayed_key = f"bench-{uuid.uuid4()}"

        def replay_event() -> dict[str, Any]:
            return api_gateway_event(EVENT_API, stack.workspace, WELCOME, key=replayed_key)

        _timed_calls(new_key_event, WARMUP_REQUESTS)
        timer = CallTimer()
        timer.hook()
        timer.take()
        timer_samples.clear()
        new_key = _timed_calls(new_key_event, NEW_KEY_ITERATIONS, timer=timer)
        breakdown = _breakdown(timer_samples)
        invoke(EVENT_API, replay_event())  # executes once; everything after replays
        replay = _timed_calls(replay_event, REPLAY_ITERATIONS, replayed=True)
    return WarmLatency(summarize(new_key), summarize(replay), breakdown)
