"""`make bench`: run every measurement, print one table, write bench/results.json."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import notify
from bench.aws_calls import measure_request_calls
from bench.cold_start import RUNS, TARGET_RATIO, measure_cold_starts
from bench.local_load import CLIENTS, PHASE_MAX_REQUESTS, PHASE_SECONDS, measure_local_load
from bench.memory import measure_memory
from bench.report import render_table
from bench.versus import measure_against_minimal_design
from bench.warm_latency import measure_warm_latency
from local.seed import demo_workspaces

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"


def machine() -> dict[str, Any]:
    return {
        # Which checkout's shared package ran (a virtualenv shared between checkouts may point elsewhere).
        "product_package": str(Path(notify.__file__).resolve().parent),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "note": "shared, noisy machine; every ratio is measured within one run",
    }


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def main() -> int:
    started = time.monotonic()
    _progress("AWS calls per request (moto in-process)")
    scenarios = measure_request_calls()
    _progress(f"cold start: import time, {RUNS} fresh processes per module")
    imports = measure_cold_starts()
    _progress("warm in-process latency, Event API")
    warm = measure_warm_latency()
    _progress("against the minimal hand-rolled design: latency, sender throughput, cost per million")
    versus = measure_against_minimal_design()
    _progress("peak memory: each function in a fresh process, serving its requests")
    memory = measure_memory()
    _progress(f"local stack: {CLIENTS} clients, up to {PHASE_SECONDS:.0f} s or {PHASE_MAX_REQUESTS} requests per phase")
    workspace = demo_workspaces()[0]
    load = measure_local_load(workspace.workspace, workspace.api_key)
    results = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "bench_seconds": round(time.monotonic() - started, 1),
        "aws_calls": [scenario.as_dict() for scenario in scenarios],
        "cold_start": {"target_ratio": TARGET_RATIO, "runs": RUNS, "imports": [t.as_dict() for t in imports]},
        "warm_latency_event_api": warm.as_dict(),
        "against_minimal_design": {name: versus[name] for name in ("latency_event_api", "sender_throughput")},
        "cost_per_million_usd": versus["cost_per_million_usd"],
        "memory": [use.as_dict() for use in memory],
        "local_stack": load.as_dict(),
    }
    RESULTS_PATH.write_text(json.dumps(results, indent=2) + "\n")
    print(render_table(results))
    print(f"\nwritten: {RESULTS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
