"""A scenario drawn from (seed, index): a few steps, each a request, some sender invocations or an operator action,
with the clock moved before it and at most one fault during it. The same (seed, index) draws the same scenario.

Time: every step of one key's lifetime falls within 6 simulated hours of the scenario's start, and a "late"
retry comes 40 hours after (past any lifetime a scenario asks for: 24 h by default, 30 h with the
expiration header), so the invariants know which lifetime each answer belongs to.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from notify.models.limits import MAX_BODY_BYTES, MAX_DATA_BYTES
from soak.faults import API_TARGETS, CANCEL_TARGETS, KINDS, SENDER_TARGETS, Fault

APIS = ("event", "bulk", "automation")
# Seconds the clock moves before a step: at once, a second, past an API invocation's deadline (10 s), minutes, hours.
ADVANCES = (0, 0, 0, 1, 31, 600, 3600)
LATE_SECONDS = 40 * 3600
# The second step of the scenario's automation waits this long: at once, a minute, past SQS's 15 minutes
# (a `not_before` the sender defers to), two days.
STEP_DELAYS = (0, 60, 1200, 2 * 86400)
MISTAKES = (
    "unknown_event",
    "bad_email",
    "malformed_json",
    "data_past_limit",
    "blank_key",
    "bad_expiration",
    "event_name_too_long",
    "bad_version",
    "not_an_object",
)
RARE_MISTAKES = ("body_past_limit",)
OPERATOR_ACTIONS = ("change_definition", "delete_definition", "change_profile", "revoke_key")


@dataclass
class Request:
    api: str
    body: Any
    key: str | None = None
    version: str = "live"
    headers: dict[str, str] = field(default_factory=dict)
    raw_body: str | None = None
    route: str | None = None
    mistake: str | None = None
    duplicate_during: bool = False  # the same request arrives again while this one executes

    def describe(self) -> str:
        parts = [self.api, self.version, f"key={self.key}" if self.key else "no key"]
        if self.mistake:
            parts.append(f"mistake={self.mistake}")
        if self.duplicate_during:
            parts.append("concurrent duplicate")
        return " ".join(parts)


@dataclass
class Deliver:
    """Sender invocations: SQS may hand out copies again first, reorder a batch, or deliver a copy concurrently."""

    invocations: int
    batch_size: int = 10
    redeliver: bool = False
    concurrent_copy: bool = False

    def describe(self) -> str:
        extras = [name for name in ("redeliver", "concurrent_copy") if getattr(self, name)]
        return f"deliver x{self.invocations} batch {self.batch_size}" + (f" ({', '.join(extras)})" if extras else "")


@dataclass
class Operator:
    action: str

    def describe(self) -> str:
        return f"operator {self.action}"


@dataclass
class Step:
    action: Request | Deliver | Operator
    advance: int = 0
    fault: Fault | None = None

    def describe(self) -> str:
        text = self.action.describe()
        if self.advance:
            text = f"+{self.advance}s {text}"
        return text + (f" [{self.fault}]" if self.fault else "")


@dataclass
class Scenario:
    seed: int
    index: int
    step_delay: int  # the automation's second step
    steps: list[Step]

    @property
    def marker(self) -> str:
        """In every payload value: no 5xx answer may quote it (invariant 4)."""
        return f"secret{self.index}x{self.seed}"

    def only(self, kept: list[int]) -> Scenario:
        return Scenario(self.seed, self.index, self.step_delay, [self.steps[i] for i in kept])


def email(scenario_index: int, recipient: int, *, longest: bool = False) -> str:
    if not longest:
        return f"r{recipient}.s{scenario_index}@example.com"
    # 254 characters, a local part of 64: the longest address the API takes (notify.models.limits).
    local = f"r{recipient}.s{scenario_index}".ljust(64, "x")
    return f"{local}@{'d' * 60}.{'e' * 60}.{'f' * 63}.com"


def phone(scenario_index: int, recipient: int) -> str:
    return f"+1415{(scenario_index * 7 + recipient) % 10_000_000:07d}"


def distinct_id(scenario_index: int) -> str:
    return f"user-{scenario_index}"


def data_of_size(marker: str, size: int, rng: random.Random) -> dict[str, Any]:
    """Template data whose compact JSON is exactly `size` bytes in UTF-8, in 1-, 2- or 4-byte characters."""
    data: dict[str, Any] = {"name": marker, "order_id": "A-1", "amount": "1 EUR", "pad": ""}
    room = size - len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
    wide = rng.choice(["x", "é", "😀"])
    width = len(wide.encode())
    data["pad"] = wide * (room // width) + "y" * (room % width)
    return data


class Drawer:
    """Draws one scenario's steps from its own random stream."""

    def __init__(self, seed: int, index: int) -> None:
        self.seed, self.index = seed, index
        self.rng = random.Random(f"{seed}:{index}")  # noqa: S311 (a seeded, replayable stream: no secret)
        self.marker = f"secret{index}x{seed}"
        self.bodies: dict[tuple[str, str], Request] = {}

    def data(self) -> dict[str, Any]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.04:
            return data_of_size(self.marker, MAX_DATA_BYTES, rng)
        if roll < 0.08:
            return data_of_size(self.marker, rng.randint(10_000, 100_000), rng)
        return {"name": self.marker, "order_id": f"A-{rng.randint(1, 999)}", "amount": "1 EUR"}

    def recipient(self, n: int) -> dict[str, Any]:
        """`to` (one or two channels), or the scenario's profile by distinct_id."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.2:
            return {"distinct_id": distinct_id(self.index)}
        to: dict[str, str] = {"email": email(self.index, n, longest=rng.random() < 0.05)}
        if rng.random() < 0.3:
            to["sms"] = phone(self.index, n)
        return {"to": to}

    def valid(self, api: str) -> Request:
        rng = self.rng
        event = rng.choice(["Welcome_Email", "OrderConfirmed"])
        if api == "event":
            return Request("event", {"event": event, **self.recipient(rng.randint(0, 9)), "data": self.data()})
        if api == "bulk":
            batch = [{**self.recipient(n), "data": self.data()} for n in range(rng.randint(1, 4))]
            return Request("bulk", {"event": event, "batch": batch})
        payload: dict[str, Any] = {
            "email": email(self.index, rng.randint(0, 9)),
            "name": self.marker,
            "order": {"id": f"A-{rng.randint(1, 99)}", "amount": "2 EUR"},
        }
        if rng.random() < 0.3:
            payload["phone"] = phone(self.index, 1)
        if rng.random() < 0.2:
            payload["user"] = distinct_id(self.index)
        return Request("automation", payload)

    def mistake(self, api: str, key: str | None) -> Request:
        rng = self.rng
        request = self.valid(api)
        kinds = [kind for kind in MISTAKES if kind != "blank_key" or key is not None]
        kind = rng.choice(RARE_MISTAKES) if rng.random() < 0.03 else rng.choice(kinds)
        request.mistake = kind
        body = request.body
        if kind == "unknown_event":
            if api == "automation":
                request.route = "automation/no_such_flow/trigger"
            else:
                body["event"] = "No_Such_Event"
        elif kind == "bad_email":
            if api == "automation":
                request.route = "automation/no_such_flow/trigger"
            elif api == "bulk":
                body["batch"][-1] = {"to": {"email": f"not-an-email-{self.marker}"}}
            else:
                body.pop("distinct_id", None)
                body["to"] = {"email": f"not-an-email-{self.marker}"}
        elif kind == "malformed_json":
            request.raw_body = json.dumps(body)[:-1]
        elif kind == "data_past_limit":
            data = data_of_size(self.marker, MAX_DATA_BYTES + 1, rng)
            if api == "event":
                body["data"] = data
            elif api == "bulk":
                body["batch"][0]["data"] = data
            else:
                request.route = "automation/no_such_flow/trigger"
        elif kind == "body_past_limit":
            request.raw_body = json.dumps({**body, "pad": "z" * MAX_BODY_BYTES})
        elif kind == "bad_expiration":
            request.headers["x-idempotency-expiration"] = "yesterday"
        elif kind == "event_name_too_long":
            if api == "automation":
                request.route = f"automation/{'a' * 300}/trigger"
            else:
                body["event"] = "E" * 257
        elif kind == "bad_version":
            request.version = "beta"
        elif kind == "not_an_object":
            request.raw_body = json.dumps([self.marker])
        request.key = key
        if kind == "blank_key":
            request.key = "   "
        return request

    def request(self, keys: list[str]) -> Request:
        rng = self.rng
        api = rng.choice(APIS)
        key = rng.choice(keys) if rng.random() < 0.8 else None
        if rng.random() < 0.15:
            return self.mistake(api, key)
        scoped = (api, key or "")
        if key is not None and scoped in self.bodies and rng.random() < 0.8:
            # A retry: the same body (or, on purpose, another one: the first answer must still come back).
            first = self.bodies[scoped]
            request = Request(api, first.body, key, first.version, dict(first.headers))
        else:
            request = self.valid(api)
            request.key = key
            request.version = "test" if rng.random() < 0.1 else "live"
            if key is not None and rng.random() < 0.1:
                request.headers["x-idempotency-expiration"] = "EXPIRES_IN_30H"
            if key is not None:
                self.bodies.setdefault(scoped, request)
        request.duplicate_during = key is not None and rng.random() < 0.1
        return request

    def fault(self, targets: list[Any]) -> Fault | None:
        return self.fault_from(self.rng, targets)

    @staticmethod
    def fault_from(rng: random.Random, targets: list[Any] = API_TARGETS) -> Fault | None:
        if rng.random() < 0.45:
            return None
        return Fault(rng.choice(targets), rng.choice(KINDS), rng.choice((1, 1, 2, 3, 99)))

    def draw(self) -> Scenario:
        rng = self.rng
        keys = [f"k{n}-s{self.index}" for n in range(rng.randint(1, 3))]
        steps: list[Step] = []
        late_used = False
        for _ in range(rng.randint(2, 6)):
            roll = rng.random()
            advance = rng.choice(ADVANCES)
            if not late_used and rng.random() < 0.08:
                advance, late_used = LATE_SECONDS, True
            if roll < 0.6:
                steps.append(Step(self.request(keys), advance, self.fault(API_TARGETS)))
            elif roll < 0.9:
                deliver = Deliver(
                    invocations=rng.randint(1, 3),
                    batch_size=rng.choice((1, 2, 10)),
                    redeliver=rng.random() < 0.3,
                    concurrent_copy=rng.random() < 0.2,
                )
                steps.append(Step(deliver, advance, self.fault(SENDER_TARGETS)))
            else:
                steps.append(Step(Operator(rng.choice(OPERATOR_ACTIONS)), advance))
        return Scenario(self.seed, self.index, rng.choice(STEP_DELAYS), steps)


# A quarter of scenarios cancel their automation runs (C1-C6): their triggers carry a Cancellation-Key and a cancel
# comes last, before the drain. Drawn from a stream of their own, so every other draw of (seed, index) is what it
# was before cancels were drawn (the regression scenarios and replay commands keep their meaning).
CANCEL_SHARE = 0.25


def add_cancel(scenario: Scenario) -> Scenario:
    rng = random.Random(f"{scenario.seed}:{scenario.index}:cancel")  # noqa: S311 (seeded, replayable)
    if rng.random() >= CANCEL_SHARE or not any(
        isinstance(step.action, Request) and step.action.api == "automation" for step in scenario.steps
    ):
        return scenario
    cancellation_key = f"order-{scenario.index}"
    for step in scenario.steps:
        if isinstance(step.action, Request) and step.action.api == "automation" and step.action.mistake is None:
            step.action.headers["cancellation-key"] = cancellation_key
    key = f"cancel-s{scenario.index}" if rng.random() < 0.7 else None
    cancel = Request("cancel", {"cancellation_key": cancellation_key}, key)
    cancel.duplicate_during = False
    steps = [*scenario.steps, Step(cancel, rng.choice(ADVANCES), Drawer.fault_from(rng, CANCEL_TARGETS))]
    return Scenario(scenario.seed, scenario.index, scenario.step_delay, steps)


def draw(seed: int, index: int) -> Scenario:
    return add_cancel(Drawer(seed, index).draw())
