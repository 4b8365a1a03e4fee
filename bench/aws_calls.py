"""AWS API calls on the request path, counted with botocore event hooks on the product's own clients.

The product creates its clients once per container through notify.dal.clients.client; the counter
registers on exactly those cached objects, so nothing of the product is mocked or wrapped.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.harness import (
    AUTOMATION_API,
    BULK_API,
    CANCEL_API,
    EVENT_API,
    Api,
    InProcessStack,
    api_gateway_event,
    in_process_stack,
    invoke,
    reset_container_state,
)
from notify.dal.clients import client
from notify.dal.profiles import create_profile
from notify.models.profiles import Profile, ProfileChannels

# Every service the API functions call on the request path. A client of any other service showing up
# in the cache would be uncounted, so each scenario checks for it (see CallCounter.unhooked_clients).
REQUEST_PATH_SERVICES = ("dynamodb", "sqs")
# Per-container caches (60 s) of the API key and of definitions: every cold request pays these reads.
CACHE_FILL_TABLES = frozenset({"ApiKeysTable", "DefinitionsTable"})
BULK_RECIPIENTS = 1000

WELCOME = {"event": "Welcome_Email", "to": {"email": "rahul@example.com"}, "data": {"name": "Rahul"}}
ONBOARDING_PAYLOAD = {
    "email": "rahul@example.com",
    "phone": "+14155550100",
    "name": "Rahul",
    "order": {"id": "A-1001", "amount": "42 EUR"},
}


def bulk_body(recipients: int) -> dict[str, Any]:
    return {
        "event": "Welcome_Email",
        "batch": [{"to": {"email": f"user{n}@example.com"}, "data": {"name": f"User {n}"}} for n in range(recipients)],
    }


class CallCounter:
    """Counts API calls (not HTTP attempts) by `service.Operation[table]` on the product's cached clients."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()  # bulk requests call from a thread pool
        self._hooked: set[str] = set()

    def hook_product_clients(self) -> None:
        """Register on the clients the product will use; call again after the container state is reset."""
        self._hooked = set(REQUEST_PATH_SERVICES)
        for service in REQUEST_PATH_SERVICES:
            events = client(service).meta.events
            # before-parameter-build sees the API parameters; it leaves the table name in the call's context.
            events.register("before-parameter-build", self._remember_table, unique_id="bench-table")
            # before-call fires once per API call, however many HTTP attempts its retries take.
            events.register("before-call", self._count, unique_id="bench-count")

    def unhooked_clients(self) -> int:
        """How many cached product clients the counter is not registered on (should be 0)."""
        return client.cache_info().currsize - len(self._hooked)

    def _remember_table(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        table = params.get("TableName")
        if table is None and isinstance(params.get("RequestItems"), dict):
            table = ",".join(sorted(params["RequestItems"]))
        if table is None and isinstance(params.get("TransactItems"), list):
            table = ",".join(
                sorted({write["TableName"] for item in params["TransactItems"] for write in item.values()})
            )
        context["bench_table"] = table

    def _count(self, event_name: str, context: dict[str, Any], **_: Any) -> None:
        _event, service, operation = event_name.split(".", 2)
        table = context.get("bench_table")
        with self._lock:
            self.calls[f"{service}.{operation}" + (f"[{table}]" if table else "")] += 1

    def take(self) -> Counter[str]:
        """The calls counted since the last take."""
        with self._lock:
            taken, self.calls = self.calls, Counter()
        return taken


@dataclass
class Scenario:
    """One request of one API, in a given container state, and the calls it made."""

    api: str
    name: str
    status: int
    target: int | None
    target_note: str
    calls: Counter[str] = field(default_factory=Counter)
    unhooked_clients: int = 0
    seconds: float = 0.0  # wall time of the handler against moto in-process: context, not a target

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def cache_fills(self) -> int:
        return sum(n for name, n in self.calls.items() if any(f"[{t}]" in name for t in CACHE_FILL_TABLES))

    @property
    def request_calls(self) -> int:
        """Calls beyond the per-container cache fills: what the target counts."""
        return self.total - self.cache_fills

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "-"
        return "PASS" if self.request_calls <= self.target else "MISS"

    def as_dict(self) -> dict[str, Any]:
        return {
            "api": self.api,
            "scenario": self.name,
            "status": self.status,
            "calls_total": self.total,
            "cache_fill_calls": self.cache_fills,
            "request_calls": self.request_calls,
            "target": self.target,
            "target_note": self.target_note,
            "verdict": self.verdict,
            "by_operation": dict(sorted(self.calls.items())),
            "unhooked_clients": self.unhooked_clients,
            "wall_ms": round(self.seconds * 1000, 1),
        }


# Targets from issue 12: a new keyed request claims, enqueues and completes (3), the completion carrying the
# request manifest in the same transaction; a replay reads the stored record (1) or nothing when warm (0);
# a 1000-recipient bulk claims and completes (2) around 100 SendMessageBatch calls. Unkeyed and `test`
# requests have no claim to carry the manifest: they write it and enqueue (2). Since issue 21 every request that
# sends reads the workspace's suppression list once at the door (S rules, docs/contract.md section 8): one
# BatchGetItem per 100 destinations, whatever the API, counted on top of issue 12's figures.
SUPPRESSION_READS = 1
NEW_KEYED_TARGET = 3 + SUPPRESSION_READS
COLD_REPLAY_TARGET = 1
WARM_REPLAY_TARGET = 0
UNKEYED_TARGET = 2 + SUPPRESSION_READS
BULK_1000_TARGET = 2 + BULK_RECIPIENTS // 10 + BULK_RECIPIENTS // 100
# By distinct_id (docs/contract.md section 6): claim, the profile's GetItem, its destinations recorded in the claim
# (so a re-execution after a crash sends the same ones), the suppression read, enqueue, complete.
BY_PROFILE_TARGET = 5 + SUPPRESSION_READS
BENCH_DISTINCT_ID = "bench-user"
# Issue 23 (docs/contract.md section 8): a key lookup reads the record once (K1); a cancel of one run of the
# two-step onboarding automation claims and completes its own key, queries the index once and writes once a step.
LOOKUP_TARGET = 1
CANCEL_ONE_RUN_TARGET = 2 + 1 + 2


@dataclass(frozen=True)
class ApiCase:
    label: str
    api: Api
    body: dict[str, Any]


CASES = (
    ApiCase("Event", EVENT_API, WELCOME),
    ApiCase(
        "Bulk, 1 item", BULK_API, {"event": "Welcome_Email", "batch": [{"to": WELCOME["to"], "data": WELCOME["data"]}]}
    ),
    ApiCase("Automations", AUTOMATION_API, ONBOARDING_PAYLOAD),
)


def _measure(
    counter: CallCounter,
    stack: InProcessStack,
    case: ApiCase,
    name: str,
    target: int | None,
    target_note: str,
    *,
    key: str | None,
    version: str = "live",
    cold: bool = False,
) -> Scenario:
    if cold:
        reset_container_state()
    counter.hook_product_clients()
    event = api_gateway_event(case.api, stack.workspace, case.body, key=key, version=version)
    counter.take()
    started = time.perf_counter()
    response = invoke(case.api, event)
    seconds = time.perf_counter() - started
    scenario = Scenario(case.label, name, response["statusCode"], target, target_note, counter.take())
    scenario.unhooked_clients = counter.unhooked_clients()
    scenario.seconds = seconds
    return scenario


def measure_request_calls() -> list[Scenario]:
    """Every scenario of the issue, per API, each in the container state it names."""
    scenarios: list[Scenario] = []
    counter = CallCounter()
    with in_process_stack() as stack:
        for case in CASES:
            measure = functools.partial(_measure, counter, stack, case)
            key = f"bench-{uuid.uuid4()}"
            scenarios.append(measure("new key, cold container", None, "caches empty", key=key, cold=True))
            key = f"bench-{uuid.uuid4()}"
            scenarios.append(
                measure("new key, warm container", NEW_KEYED_TARGET, "claim+suppressions+enqueue+complete", key=key)
            )
            scenarios.append(measure("replay, warm container", WARM_REPLAY_TARGET, "Powertools local cache", key=key))
            scenarios.append(
                measure("replay, cold container", COLD_REPLAY_TARGET, "read stored record", key=key, cold=True)
            )
            scenarios.append(
                measure(
                    "test version (key ignored)",
                    UNKEYED_TARGET,
                    "suppressions+manifest+enqueue",
                    key=key,
                    version="test",
                )
            )
            scenarios.append(measure("no key", UNKEYED_TARGET, "suppressions+manifest+enqueue", key=None))
        bulk = ApiCase(f"Bulk, {BULK_RECIPIENTS}", BULK_API, bulk_body(BULK_RECIPIENTS))
        scenarios.append(
            _measure(
                counter,
                stack,
                bulk,
                "new key, warm container",
                BULK_1000_TARGET,
                "claim+10 suppression reads+100 batches+complete",
                key=f"bench-{uuid.uuid4()}",
            )
        )
        profile = Profile(
            distinct_id=BENCH_DISTINCT_ID,
            channel=ProfileChannels(email="bench-profile@example.com"),
            created_at="2026-12-01T00:00:00Z",
            updated_at="2026-12-01T00:00:00Z",
            version="live",
        )
        create_profile(stack.workspace.workspace, profile)
        by_profile = ApiCase(
            "Event by distinct_id",
            EVENT_API,
            {"event": "Welcome_Email", "distinct_id": BENCH_DISTINCT_ID, "data": {"name": "Bench"}},
        )
        scenarios.append(
            _measure(
                counter,
                stack,
                by_profile,
                "new key, warm container",
                BY_PROFILE_TARGET,
                "claim+profile+record+suppressions+enqueue+complete",
                key=f"bench-{uuid.uuid4()}",
            )
        )
        scenarios += _measure_issue_23(counter, stack)
    return scenarios


def _measure_issue_23(counter: CallCounter, stack: InProcessStack) -> list[Scenario]:
    """The key lookup (K1) and the cancel of one run (C1), warm."""
    key, cancellation_key = f"bench-{uuid.uuid4()}", f"bench-{uuid.uuid4()}"
    trigger = api_gateway_event(AUTOMATION_API, stack.workspace, ONBOARDING_PAYLOAD, key=key)
    trigger["headers"]["cancellation-key"] = cancellation_key
    invoke(AUTOMATION_API, trigger)
    lookup = Api("status_api", "status_api/get_request.json", f"idempotency/automation/{key}")
    cancel = ApiCase("Automation cancel", CANCEL_API, {"cancellation_key": cancellation_key})
    found = _measure(
        counter, stack, ApiCase("Key lookup", lookup, {}), "warm container", LOOKUP_TARGET, "GetItem", key=None
    )
    cancelled = _measure(
        counter, stack, cancel, "one run, 2 steps", CANCEL_ONE_RUN_TARGET, "claim+query+write/step+complete", key=key
    )
    return [found, cancelled]
