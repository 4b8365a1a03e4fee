"""Warm in-process latency of the Event API: a new keyed request against a replay of a stored one."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from bench.aws_calls import WELCOME
from bench.harness import EVENT_API, api_gateway_event, in_process_stack, invoke
from bench.stats import LatencySummary, summarize

# Bounded by count and by time, whichever ends first, so a slow machine still finishes.
NEW_KEY_ITERATIONS = 400
REPLAY_ITERATIONS = 2000
PHASE_SECONDS = 10.0
WARMUP_REQUESTS = 20


@dataclass(frozen=True)
class WarmLatency:
    new_key: LatencySummary
    replay: LatencySummary

    @property
    def ratio(self) -> float:
        """How many times slower a new keyed request is than a replay (medians)."""
        return self.new_key.median_ms / self.replay.median_ms

    def as_dict(self) -> dict[str, Any]:
        return {
            "new_key": self.new_key.as_dict(),
            "replay": self.replay.as_dict(),
            "ratio_new_to_replay": round(self.ratio, 1),
        }


def _timed_calls(make_event: Any, iterations: int, *, replayed: bool = False) -> list[float]:
    samples: list[float] = []
    deadline = time.monotonic() + PHASE_SECONDS
    while len(samples) < iterations and time.monotonic() < deadline:
        event = make_event()  # built outside the timed span: only the handler is measured
        started = time.perf_counter()
        response = invoke(EVENT_API, event)
        samples.append(time.perf_counter() - started)
        if response["statusCode"] != 202:
            raise RuntimeError(f"the Event API answered {response['statusCode']}: {response.get('body')}")
        if replayed != ("Idempotency-Replayed" in response.get("headers", {})):
            raise RuntimeError(f"expected replayed={replayed}, got headers {response.get('headers')}")
    return samples


def measure_warm_latency() -> WarmLatency:
    """Both in one warm container (caches filled), against moto in this process."""
    with in_process_stack() as stack:

        def new_key_event() -> dict[str, Any]:
            return api_gateway_event(EVENT_API, stack.workspace, WELCOME, key=f"bench-{uuid.uuid4()}")

        replayed_key = f"bench-{uuid.uuid4()}"

        def replay_event() -> dict[str, Any]:
            return api_gateway_event(EVENT_API, stack.workspace, WELCOME, key=replayed_key)

        _timed_calls(new_key_event, WARMUP_REQUESTS)
        new_key = _timed_calls(new_key_event, NEW_KEY_ITERATIONS)
        invoke(EVENT_API, replay_event())  # executes once; everything after replays
        replay = _timed_calls(replay_event, REPLAY_ITERATIONS, replayed=True)
    return WarmLatency(summarize(new_key), summarize(replay))
