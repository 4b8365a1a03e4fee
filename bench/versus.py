"""The product against the design a user would hand-roll (bench/baseline.py), in one process, one run, one moto
(issue 25): warm latency of a new key and of a replay, sender throughput, and what a million notifications
cost at list prices (bench/prices.py), computed from what this run measured.

Every timed phase alternates the two designs request by request (the order flipping each time), so both see the
same machine at the same moment; only the ratios are targets, printed PASS/FAIL, never asserted by a test.
"""

from __future__ import annotations

import cProfile
import json
import math
import os
import pstats
import statistics
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from bench.aws_calls import BULK_RECIPIENTS, WELCOME, bulk_body
from bench.baseline import MinimalDesign, create_minimal_design
from bench.capacity import CapacityMeter, counting_log_bytes
from bench.harness import (
    BULK_API,
    EVENT_API,
    REGION,
    FakeLambdaContext,
    InProcessStack,
    api_gateway_event,
    in_process_stack,
    invoke,
    load_function,
    reset_container_state,
)
from bench.prices import HTTP_API_CHUNK_BYTES, PRICES_AS_OF, PRICES_USD
from bench.stats import summarize
from local.template import ROOT, LocalResources, function_environment, function_specs
from notify.dal.clients import client

NEW_KEY_ITERATIONS = 400
REPLAY_ITERATIONS = 3000
SENDER_BATCHES = 40
BATCH_SIZE = 10
PHASE_SECONDS = 20.0
WARMUP = 20
PROFILED_REPLAYS = 1000
PROFILED_NEW_KEYS = 150
BULK_RUNS = 3

TARGETS = {
    "new_key_p50": 1.10,
    "replay_p50": 2.0,
    "new_key_p99": 1.5,
    "replay_p99": 1.5,
}
SENDER_TARGET = 0.8
COST_TARGET_USD = 5.00
# The SQS event source mapping receives and deletes in batches of up to 10 (template: BatchSize 10); at a
# million notifications the batches are full, so each message costs a tenth of a ReceiveMessage, of a
# DeleteMessageBatch and of a sender invocation.
SENDER_BATCH_ASSUMED = 10


class OperationTimer:
    """Per request: ms in each AWS operation (botocore before-call to after-call) on the given clients."""

    def __init__(self, clients: list[Any], name: str) -> None:
        self._lock = threading.Lock()
        self.current: dict[str, float] = defaultdict(float)
        for each in clients:
            each.meta.events.register("before-call", self._start, unique_id=f"bench-versus-start-{name}")
            each.meta.events.register("after-call", self._stop, unique_id=f"bench-versus-stop-{name}")

    def _start(self, context: dict[str, Any], **_: Any) -> None:
        context["bench_versus_started"] = time.perf_counter()

    def _stop(self, event_name: str, context: dict[str, Any], **_: Any) -> None:
        started = context.get("bench_versus_started")
        if started is not None:
            with self._lock:
                self.current[event_name.split(".", 2)[2]] += (time.perf_counter() - started) * 1000

    def take(self) -> dict[str, float]:
        with self._lock:
            taken, self.current = dict(self.current), defaultdict(float)
        return taken


def _median_breakdown(samples: list[dict[str, float]], rest: str) -> dict[str, float]:
    names = sorted({name for sample in samples for name in sample}, key=lambda n: (n == rest, n))
    return {name: round(statistics.median(s.get(name, 0.0) for s in samples), 3) for name in names}


@dataclass
class Side:
    """One design's samples in an alternating phase: seconds, and ms per AWS operation per request."""

    call: Callable[[dict[str, Any]], dict[str, Any]]
    timer: OperationTimer
    seconds: list[float]
    breakdown: list[dict[str, float]]

    def run(self, event: dict[str, Any], *, replayed: bool | None) -> None:
        self.timer.take()
        started = time.perf_counter()
        response = self.call(event)
        elapsed = time.perf_counter() - started
        calls = self.timer.take()
        if response["statusCode"] != 202:
            raise RuntimeError(f"answered {response['statusCode']}: {str(response.get('body'))[:300]}")
        if replayed is not None and replayed != ("Idempotency-Replayed" in response.get("headers", {})):
            raise RuntimeError(f"expected replayed={replayed}: {response.get('headers')}")
        self.seconds.append(elapsed)
        self.breakdown.append({**calls, "code": elapsed * 1000 - sum(calls.values())})


def _alternate(
    product: Side,
    minimal: Side,
    events: Callable[[], tuple[dict[str, Any], dict[str, Any]]],
    n: int,
    *,
    product_replayed: bool | None,
) -> None:
    deadline = time.monotonic() + PHASE_SECONDS
    for i in range(n):
        if time.monotonic() > deadline:
            break
        product_event, minimal_event = events()
        order = [(product, product_event, product_replayed), (minimal, minimal_event, None)]
        for side, event, replayed in order if i % 2 == 0 else reversed(order):
            side.run(event, replayed=replayed)


# -- where a replay's and a new key's time goes in the product, per step (cProfile, scaled to the median)
# Each chain is the functions on the request's path, outermost first; a step's own time is its inclusive time less
# the next step's. A side step is a call inside the chain step it names; its time is taken out of that step's.
Step = tuple[str, str, str]  # label, file (its path's end), function
SideStep = tuple[str, str, str, str]  # label, file, function, the chain step it runs in

NEW_KEY_CHAIN: tuple[Step, ...] = (
    ("handler: the replay shortcut's check (a miss)", "notify/api.py", "lambda_handler"),
    ("Logger.inject_lambda_context (log context, correlation id)", "logging/logger.py", "decorate"),
    ("Metrics.log_metrics (flush at the end)", "metrics/provider/base.py", "decorate"),
    ("resolver: event, route, response", "event_handler/api_gateway.py", "resolve"),
    ("time budget middleware", "notify/api.py", "within_invocation_time"),
    ("authentication middleware (cached key)", "notify/api.py", "authenticate_workspace"),
    ("serve_request: key, scope, decorator per request", "notify/logic/idempotency.py", "run_idempotently"),
    ("Powertools idempotency: hash, local cache", "idempotency/idempotency.py", "decorate"),
)
NEW_KEY_SIDE_STEPS: tuple[SideStep, ...] = tuple(
    (label, path, function, NEW_KEY_CHAIN[-1][0])
    for label, path, function in (
        ("claim (PutItem)", "notify/dal/idempotency_store.py", "save_inprogress"),
        ("execute: validate, build, enqueue", "notify/logic/idempotency.py", "execute_and_remember"),
        ("completion (TransactWriteItems)", "notify/dal/idempotency_store.py", "save_success"),
    )
)
# A replay the container holds never reaches the resolver (notify.api.replay_without_resolver).
REPLAY_CHAIN: tuple[Step, ...] = (
    ("handler", "notify/api.py", "lambda_handler"),
    ("replay shortcut: event, route match, body", "notify/api.py", "replay_without_resolver"),
    ("cached answer: key hash, local cache, fingerprint", "notify/logic/idempotency.py", "replay_from_container"),
)
REPLAY_SIDE_STEPS: tuple[SideStep, ...] = (
    ("authentication (cached key)", "notify/logic/auth.py", "authenticated_from_cache", REPLAY_CHAIN[1][0]),
    (
        "replay hook: Idempotency-Replayed, metric record",
        "notify/logic/idempotency.py",
        "_mark_replayed",
        REPLAY_CHAIN[2][0],
    ),
    ("response dict (Powertools' ResponseBuilder)", "event_handler/api_gateway.py", "build", REPLAY_CHAIN[1][0]),
)


def _inclusive(stats: pstats.Stats, path: str, function: str) -> tuple[int, float]:
    calls, seconds = 0, 0.0
    for (filename, _line, name), (_cc, primitive, _tt, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if name == function and filename.replace(os.sep, "/").endswith(path):
            calls, seconds = max(calls, primitive), max(seconds, cumulative)
    return calls, seconds


def _steps(
    profile: cProfile.Profile, median_ms: float, chain: tuple[Step, ...], side_steps: tuple[SideStep, ...]
) -> dict[str, float]:
    """Median ms per request of each step, from the profiler's shares of the handler's time."""
    stats = pstats.Stats(profile)
    inclusive = [(label, _inclusive(stats, path, fn)[1]) for label, path, fn in chain]
    total = inclusive[0][1]
    if total <= 0:
        return {}
    own: dict[str, float] = {}
    for (label, seconds), (_next, inner) in zip(inclusive, [*inclusive[1:], ("", 0.0)], strict=True):
        own[label] = seconds - inner
    for label, path, fn, parent in side_steps:
        seconds = _inclusive(stats, path, fn)[1]
        if seconds > 0:
            own[label] = seconds
            own[parent] -= seconds
    scale = median_ms / total
    return {label: round(seconds * scale, 3) for label, seconds in own.items() if seconds > 0}


def _profile(call: Callable[[], Any], requests: int) -> cProfile.Profile:
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(requests):
        call()
    profile.disable()
    return profile


# -- the phases
def _latency(stack: InProcessStack, design: MinimalDesign) -> dict[str, Any]:
    context = FakeLambdaContext()
    product_timer = OperationTimer([client("dynamodb"), client("sqs")], "product")
    minimal_timer = OperationTimer([design.clients["dynamodb"], design.clients["sqs"]], "minimal")

    def product(event: dict[str, Any]) -> dict[str, Any]:
        return invoke(EVENT_API, event)

    def minimal(event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = design.api_handler(event, context)
        return response

    def event(key: str) -> dict[str, Any]:
        return api_gateway_event(EVENT_API, stack.workspace, WELCOME, key=key)

    def new_keys() -> tuple[dict[str, Any], dict[str, Any]]:
        return event(f"bench-{uuid.uuid4()}"), event(f"bench-{uuid.uuid4()}")

    warm_p, warm_m = Side(product, product_timer, [], []), Side(minimal, minimal_timer, [], [])
    _alternate(warm_p, warm_m, new_keys, WARMUP, product_replayed=False)
    new_p, new_m = Side(product, product_timer, [], []), Side(minimal, minimal_timer, [], [])
    _alternate(new_p, new_m, new_keys, NEW_KEY_ITERATIONS, product_replayed=False)

    replayed = f"bench-{uuid.uuid4()}"
    product(event(replayed)), minimal(event(replayed))
    replay_p, replay_m = Side(product, product_timer, [], []), Side(minimal, minimal_timer, [], [])
    _alternate(replay_p, replay_m, lambda: (event(replayed), event(replayed)), REPLAY_ITERATIONS, product_replayed=True)

    figures = {
        "product": {"new_key": summarize(new_p.seconds).as_dict(), "replay": summarize(replay_p.seconds).as_dict()},
        "minimal": {"new_key": summarize(new_m.seconds).as_dict(), "replay": summarize(replay_m.seconds).as_dict()},
    }
    ratios = {
        "new_key_p50": figures["product"]["new_key"]["median_ms"] / figures["minimal"]["new_key"]["median_ms"],
        "new_key_p99": figures["product"]["new_key"]["p99_ms"] / figures["minimal"]["new_key"]["p99_ms"],
        "replay_p50": figures["product"]["replay"]["median_ms"] / figures["minimal"]["replay"]["median_ms"],
        "replay_p99": figures["product"]["replay"]["p99_ms"] / figures["minimal"]["replay"]["p99_ms"],
    }
    # Steps, under the profiler (outside the timed samples), scaled to this run's medians.
    replay_events = [event(replayed) for _ in range(PROFILED_REPLAYS)]
    replay_profile = _profile(lambda: product(replay_events.pop()), PROFILED_REPLAYS)
    new_events = [event(f"bench-{uuid.uuid4()}") for _ in range(PROFILED_NEW_KEYS)]
    new_profile = _profile(lambda: product(new_events.pop()), PROFILED_NEW_KEYS)
    return {
        **figures,
        "ratios": {name: round(value, 2) for name, value in ratios.items()},
        "targets": TARGETS,
        "verdicts": {name: "PASS" if ratios[name] <= TARGETS[name] else "FAIL" for name in TARGETS},
        "new_key_calls_median_ms": {
            "product": _median_breakdown(new_p.breakdown, "code"),
            "minimal": _median_breakdown(new_m.breakdown, "code"),
        },
        "product_steps_median_ms": {
            "replay": _steps(
                replay_profile, figures["product"]["replay"]["median_ms"], REPLAY_CHAIN, REPLAY_SIDE_STEPS
            ),
            "new_key": _steps(
                new_profile, figures["product"]["new_key"]["median_ms"], NEW_KEY_CHAIN, NEW_KEY_SIDE_STEPS
            ),
        },
        "iterations": {"new_key": len(new_p.seconds), "replay": len(replay_p.seconds)},
    }


def _sqs_records(count: int, workspace: str) -> list[dict[str, Any]]:
    sample = json.loads((ROOT / "events/sender/sqs_batch.json").read_text())["Records"][0]
    records = []
    for _ in range(count):
        body = {
            **json.loads(sample["body"]),
            "workspace": workspace,
            "msg_id": str(uuid.uuid4()),
            "request_id": str(uuid.uuid4()),
            "dedupe_until": int(time.time()) + 86400,
        }
        records.append({**sample, "messageId": str(uuid.uuid4()), "body": json.dumps(body)})
    return records


class SenderContext(FakeLambdaContext):
    function_name = "SenderFunction"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _sender(stack: InProcessStack, design: MinimalDesign, meter: CapacityMeter) -> dict[str, Any]:
    """Batches of 10 through the product's sender and the minimal handlers, alternating; then one metered batch."""
    os.environ.update(function_environment("SenderFunction", stack.resources))
    reset_container_state()
    boto3.session.Session(region_name=REGION).client("sesv2").create_email_identity(
        EmailIdentity=os.environ["EMAIL_FROM"]
    )
    sender = load_function("sender")
    context = SenderContext()

    def product(batch: list[dict[str, Any]]) -> None:
        answer = sender.lambda_handler({"Records": batch}, context)
        if answer.get("batchItemFailures"):
            raise RuntimeError(f"the sender failed {answer['batchItemFailures']}")

    def minimal(batch: list[dict[str, Any]]) -> None:
        if design.sender_handler({"Records": batch}, context)["batchItemFailures"]:
            raise RuntimeError("the minimal sender failed")

    def bare(batch: list[dict[str, Any]]) -> None:
        design.bare_sender_handler({"Records": batch}, context)

    product(_sqs_records(BATCH_SIZE, stack.workspace.workspace))  # imports and fills the caches
    product_timer = OperationTimer([client("dynamodb"), client("sesv2")], "sender-product")
    minimal_timer = OperationTimer([design.clients["dynamodb"], design.clients["sesv2"]], "sender-minimal")
    sides = {"product": product, "minimal": minimal, "bare": bare}
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    calls: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    for name in sides:  # warm-up
        sides[name](_sqs_records(BATCH_SIZE, stack.workspace.workspace))
    deadline = time.monotonic() + PHASE_SECONDS
    names = list(sides)
    for i in range(SENDER_BATCHES):
        if time.monotonic() > deadline:
            break
        for name in names[i % 3 :] + names[: i % 3]:
            batch = _sqs_records(BATCH_SIZE, stack.workspace.workspace)
            product_timer.take(), minimal_timer.take()
            started = time.perf_counter()
            sides[name](batch)
            elapsed = time.perf_counter() - started
            taken = product_timer.take() if name == "product" else minimal_timer.take()
            seconds[name].append(elapsed)
            calls[name].append(
                {op: ms / BATCH_SIZE for op, ms in taken.items()}
                | {"code": (elapsed * 1000 - sum(taken.values())) / BATCH_SIZE}
            )
    per_second = {name: BATCH_SIZE * len(s) / sum(s) for name, s in seconds.items()}
    ratio = per_second["product"] / per_second["minimal"]
    # One more product batch under the meter: units and log bytes per message.
    product_clients = {"dynamodb": client("dynamodb"), "sesv2": client("sesv2")}
    minimal_clients = {"dynamodb": design.clients["dynamodb"], "sesv2": design.clients["sesv2"]}
    meter.hook(product_clients)
    meter.take()
    with counting_log_bytes() as logged:
        product(_sqs_records(BATCH_SIZE, stack.workspace.workspace))
    product_units = meter.take()
    meter.unhook(product_clients)
    meter.hook(minimal_clients)
    minimal(_sqs_records(BATCH_SIZE, stack.workspace.workspace))
    minimal_units = meter.take()
    meter.unhook(minimal_clients)
    return {
        "messages_per_second": {name: round(value, 1) for name, value in per_second.items()},
        "batch_median_ms": {name: round(statistics.median(s) * 1000, 2) for name, s in seconds.items()},
        "batches": {name: len(s) for name, s in seconds.items()},
        "ratio_to_minimal": round(ratio, 2),
        "ratio_to_bare": round(per_second["product"] / per_second["bare"], 2),
        "target": SENDER_TARGET,
        "verdict": "PASS" if ratio >= SENDER_TARGET else "FAIL",
        "per_message_calls_median_ms": {name: _median_breakdown(c, "code") for name, c in calls.items()},
        "metered_batch": {
            "product": _per(product_units, BATCH_SIZE),
            "minimal": _per(minimal_units, BATCH_SIZE),
            "product_log_bytes_per_message": logged.bytes / BATCH_SIZE,
        },
    }


def _per(units: dict[str, Any], n: int) -> dict[str, Any]:
    return {
        "dynamodb_write_units": {t: u / n for t, u in units["dynamodb_write_units"].items()},
        "dynamodb_read_units": {t: u / n for t, u in units["dynamodb_read_units"].items()},
        "sqs_requests": {op: c / n for op, c in units["sqs_requests"].items()},
        "ses_emails": units["ses_emails"] / n,
    }


def _metered_api(stack: InProcessStack, design: MinimalDesign, meter: CapacityMeter) -> dict[str, Any]:
    """One warm keyed Event with one email, the minimal design's request, and a 1000-recipient bulk, metered."""
    product_clients = {"dynamodb": client("dynamodb"), "sqs": client("sqs")}
    minimal_clients = {"dynamodb": design.clients["dynamodb"], "sqs": design.clients["sqs"]}
    meter.hook(product_clients)
    invoke(EVENT_API, api_gateway_event(EVENT_API, stack.workspace, WELCOME, key=f"bench-{uuid.uuid4()}"))
    meter.take()
    event = api_gateway_event(EVENT_API, stack.workspace, WELCOME, key=f"bench-{uuid.uuid4()}")
    with counting_log_bytes() as logged:
        invoke(EVENT_API, event)
    keyed = meter.take()
    keyed["log_bytes"] = logged.bytes
    keyed["request_bytes"] = len(event["body"])

    meter.unhook(product_clients)
    meter.hook(minimal_clients)
    design.api_handler(
        api_gateway_event(EVENT_API, stack.workspace, WELCOME, key=f"bench-{uuid.uuid4()}"), FakeLambdaContext()
    )
    minimal = meter.take()
    meter.unhook(minimal_clients)
    meter.hook(product_clients)

    bulk_runs: list[float] = []
    bulk: dict[str, Any] = {}
    for run in range(BULK_RUNS):
        event = api_gateway_event(BULK_API, stack.workspace, bulk_body(BULK_RECIPIENTS), key=f"bench-{uuid.uuid4()}")
        meter.take()
        with counting_log_bytes() as logged:
            started = time.perf_counter()
            response = invoke(BULK_API, event)
            bulk_runs.append(time.perf_counter() - started)
        if response["statusCode"] != 202:
            raise RuntimeError(f"bulk answered {response['statusCode']}")
        if run == 0:
            bulk = meter.take()
            bulk["log_bytes"] = logged.bytes
            bulk["request_bytes"] = len(event["body"])
    meter.unhook(product_clients)
    bulk["median_ms"] = round(statistics.median(bulk_runs) * 1000, 1)
    return {"keyed_event": keyed, "minimal": minimal, "bulk_1000": bulk}


def _dynamodb_usd(units: dict[str, Any]) -> float:
    writes = sum(units["dynamodb_write_units"].values())
    reads = sum(units["dynamodb_read_units"].values())
    return writes * PRICES_USD["dynamodb_write_request_unit"] + reads * PRICES_USD["dynamodb_read_request_unit"]


def _lambda_usd(billed_ms: float, memory_mb: int, invocations: float) -> float:
    gb_seconds = billed_ms / 1000 * memory_mb / 1024
    return gb_seconds * PRICES_USD["lambda_gb_second_arm64"] + invocations * PRICES_USD["lambda_request"]


def _sqs_usd(requests: float) -> float:
    return requests * PRICES_USD["sqs_request"]


def _logs_usd(log_bytes: float) -> float:
    return log_bytes / 1e9 * PRICES_USD["cloudwatch_logs_ingested_gb"]


def _cost(api: dict[str, Any], sender: dict[str, Any], latency: dict[str, Any]) -> dict[str, Any]:
    """USD per million: a keyed Event with one email (API and sender side), and a 1000-recipient bulk."""
    memory = {spec.logical_id: spec.memory_size for spec in function_specs(LocalResources(region=REGION))}
    million = 1e6
    keyed = api["keyed_event"]
    per_message = sender["metered_batch"]["product"]
    # The event source mapping's ReceiveMessage and DeleteMessageBatch, a tenth of each per message.
    consume = 2 / SENDER_BATCH_ASSUMED
    sender_ms = math.ceil(sender["batch_median_ms"]["product"]) / SENDER_BATCH_ASSUMED
    api_ms = math.ceil(latency["product"]["new_key"]["median_ms"])
    log_bytes_sender = sender["metered_batch"]["product_log_bytes_per_message"]

    def keyed_breakdown(
        side: dict[str, Any],
        sender_units: dict[str, Any],
        api_billed_ms: float,
        sender_billed_ms: float,
        api_logs: float,
        sender_logs: float,
        api_function: str,
    ) -> dict[str, float]:
        return {
            "dynamodb_api": _dynamodb_usd(side) * million,
            "dynamodb_sender": _dynamodb_usd(sender_units) * million,
            "sqs": _sqs_usd(sum(side["sqs_requests"].values()) + consume) * million,
            "lambda_api": _lambda_usd(api_billed_ms, memory[api_function], 1) * million,
            "lambda_sender": _lambda_usd(sender_billed_ms, memory["SenderFunction"], 1 / SENDER_BATCH_ASSUMED)
            * million,
            "http_api": PRICES_USD["http_api_request"] * million,
            "cloudwatch_logs": _logs_usd(api_logs + sender_logs) * million,
        }

    breakdown = keyed_breakdown(
        keyed, per_message, api_ms, sender_ms, keyed["log_bytes"], log_bytes_sender, "EventApiFunction"
    )
    minimal_ms = math.ceil(latency["minimal"]["new_key"]["median_ms"])
    minimal_sender_ms = math.ceil(sender["batch_median_ms"]["minimal"]) / SENDER_BATCH_ASSUMED
    minimal_breakdown = keyed_breakdown(
        api["minimal"], sender["metered_batch"]["minimal"], minimal_ms, minimal_sender_ms, 0, 0, "EventApiFunction"
    )
    bulk = api["bulk_1000"]
    recipients = BULK_RECIPIENTS
    http_chunks = max(1, math.ceil(bulk["request_bytes"] / HTTP_API_CHUNK_BYTES))
    bulk_breakdown = {
        "dynamodb_api": _dynamodb_usd(bulk) * million,
        "dynamodb_sender": _dynamodb_usd(per_message) * recipients * million,
        "sqs": _sqs_usd(sum(bulk["sqs_requests"].values()) + consume * recipients) * million,
        "lambda_api": _lambda_usd(math.ceil(bulk["median_ms"]), memory["BulkApiFunction"], 1) * million,
        "lambda_sender": _lambda_usd(
            sender_ms * recipients, memory["SenderFunction"], recipients / SENDER_BATCH_ASSUMED
        )
        * million,
        "http_api": PRICES_USD["http_api_request"] * http_chunks * million,
        "cloudwatch_logs": _logs_usd(bulk["log_bytes"] + log_bytes_sender * recipients) * million,
    }
    total = sum(breakdown.values())
    return {
        "total": round(total, 3),
        "breakdown": {name: round(usd, 4) for name, usd in breakdown.items()},
        "bulk_1000": {
            "total": round(sum(bulk_breakdown.values()), 2),
            "per_recipient": round(sum(bulk_breakdown.values()) / recipients, 4),
            "breakdown": {name: round(usd, 2) for name, usd in bulk_breakdown.items()},
            "note": "USD per million bulk requests of 1000 recipients each",
        },
        "minimal_design_total": round(sum(minimal_breakdown.values()), 3),
        "minimal_design_breakdown": {name: round(usd, 4) for name, usd in minimal_breakdown.items()},
        "target": COST_TARGET_USD,
        "verdict": "PASS" if total <= COST_TARGET_USD else "FAIL",
        "not_in_total": {
            "ses_per_million_emails": round(PRICES_USD["ses_email"] * million, 2),
        },
        "prices": {name: price for name, price in PRICES_USD.items()},
        "prices_as_of": PRICES_AS_OF,
        "assumptions": {
            "api_billed_ms": api_ms,
            "sender_billed_ms_per_message": sender_ms,
            "bulk_billed_ms": math.ceil(bulk["median_ms"]),
            "sender_batch": SENDER_BATCH_ASSUMED,
            "memory_mb": {name: memory[name] for name in ("EventApiFunction", "BulkApiFunction", "SenderFunction")},
            "durations": "measured here against moto in-process: a deployed function also waits on each AWS call's"
            " network round trip",
        },
        "measured": {
            "keyed_event_api": keyed,
            "sender_per_message": per_message,
            "sender_log_bytes_per_message": log_bytes_sender,
            "bulk_1000_api": bulk,
            "minimal_api": api["minimal"],
            "minimal_sender_per_message": sender["metered_batch"]["minimal"],
        },
    }


def measure_against_minimal_design() -> dict[str, Any]:
    with in_process_stack() as stack:
        design = create_minimal_design(function_environment("SenderFunction", stack.resources)["EMAIL_FROM"])
        latency = _latency(stack, design)
        meter = CapacityMeter()
        api = _metered_api(stack, design, meter)
        sender = _sender(stack, design, meter)
    return {
        "latency_event_api": latency,
        "sender_throughput": sender,
        "cost_per_million_usd": _cost(api, sender, latency),
    }
