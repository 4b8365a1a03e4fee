"""`python -m bench.sam_local`: `make run-sam` against `make run`, started side by side, on one machine.

Prints each stack's time from start to its `ready` line, and the per-request latency of the Event API
over HTTP (new keys, then replays of them), taken in turns so both see the same load. The numbers in
docs/local-stack.md come from this command.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.local_load import LocalStackProcess
from bench.stats import summarize
from local import process
from local.template import ROOT

REQUESTS = 30
READY_TIMEOUT_SECONDS = 900
BODY = {"event": "Welcome_Email", "to": {"email": "bench@example.com"}, "data": {"name": "Bench"}}
HEADERS = {"Authorization": "Bearer local-key-0001-aaaaaaaaaaaaaaaaaaaa", "Content-Type": "application/json"}


def start(module: str) -> tuple[LocalStackProcess, float]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{module}-"))
    environment = process.local_stack_environment(
        LOCAL_SAM_ENV_FILE=str(workdir / "local-env.json"),
        PYTHONPATH=os.pathsep.join([str(ROOT / "layers"), str(ROOT)]),
    )
    started = time.monotonic()
    stack = LocalStackProcess(environment, workdir / "stack.log", module)
    stack.wait_until_ready(READY_TIMEOUT_SECONDS)
    return stack, time.monotonic() - started


def timed_post(stack: LocalStackProcess, key: str) -> float:
    started = time.perf_counter()
    answer = stack.post("/v1/WSLOCAL0001/live/event", BODY, {**HEADERS, "Idempotency-Key": key})
    elapsed = time.perf_counter() - started
    if answer.status != 202:
        raise RuntimeError(f"{answer.status}: {answer.body!r}")
    return elapsed


def main() -> int:
    stacks: dict[str, LocalStackProcess] = {}
    try:
        for name, module in (("make run-sam", "local.sam"), ("make run", "local")):
            stacks[name], ready_seconds = start(module)
            print(f"{name:13} ready after {ready_seconds:6.1f} s", flush=True)
        # One request each first: under run-sam it starts the runtime in the warm container (its cold start).
        for name, stack in stacks.items():
            print(f"{name:13} first request {timed_post(stack, str(uuid.uuid4())) * 1000:8.1f} ms", flush=True)
        samples: dict[tuple[str, str], list[float]] = {}
        keys = [str(uuid.uuid4()) for _ in range(REQUESTS)]
        for phase in ("new key", "replay"):
            for key in keys:
                for name, stack in stacks.items():
                    samples.setdefault((name, phase), []).append(timed_post(stack, key))
        print(f"{'':13} {'requests':>8} {'median ms':>10} {'p99 ms':>8}")
        for (name, phase), seconds in samples.items():
            summary = summarize(seconds)
            print(f"{name:13} {phase:8} {summary.count:3} {summary.median_ms:10.1f} {summary.p99_ms:8.1f}")
    finally:
        for name, stack in stacks.items():
            code = stack.stop(120)
            if code != 0:
                print(f"{name} exited with {code}; log: {stack.log_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
