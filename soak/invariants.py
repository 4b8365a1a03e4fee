"""The invariants of issue 22, checked once a scenario's queues are drained (numbers as in the issue):

1. within a key's lifetime every answer is byte for byte the first stored answer, or a refusal that stored nothing
   (400/401/404/409/413/503); a lifetime's first stored answer is a replay only if an earlier call of that
   lifetime got no answer (killed), and a refusal is never replayed;
2. every msg_id reaches a provider at most once, and one whose provider outcome was ambiguous (a lost answer, a
   5xx, the sender killed around the call) ends `unknown`; one a provider took is never shown failed or skipped;
3. nothing accepted is lost: every notification of a 202 ends sent, failed, unknown or skipped (cancelled does not
   exist yet), none stays queued, no 202's request is a 404 on the status route, and what sits in the dead-letter
   queue is shown failed;
4. no client mistake gets a 5xx (a 503 is allowed only when a fault hit the stores needed before validation), nor a
   fresh 202 (a replay of the key's first stored answer is invariant 1's to judge); no 5xx carries a stack trace
   or a value of the payload;
5. nothing written passes a DynamoDB item, key or transaction limit (soak/world.py measures every write).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from soak.play import Attempt, Game, Played
from soak.world import World

REFUSALS = {400, 401, 404, 409, 413, 503}
FINAL_STATES = {"sent", "failed", "unknown", "skipped", "cancelled"}
# The longest lifetime a scenario asks for is 30 h; its steps of one lifetime fall within 6 h, and a late retry
# comes 40 h after (soak/scenarios.py).
LIFETIME_GAP_SECONDS = 36 * 3600
REPLAYED = "idempotency-replayed"


@dataclass(frozen=True)
class Violation:
    invariant: int
    message: str

    def __str__(self) -> str:
        return f"invariant {self.invariant}: {self.message}"


def _label(attempt: Attempt) -> str:
    return f"step {attempt.step} ({attempt.request.describe()})"


def idempotent_answers(played: Played) -> list[Violation]:
    """Invariant 1."""
    violations: list[Violation] = []
    by_key: dict[tuple[str, str], list[Attempt]] = {}
    for attempt in played.attempts:
        request = attempt.request
        if request.key is None or not request.key.strip() or request.version != "live":
            continue
        by_key.setdefault((request.api, request.key), []).append(attempt)
    for (api, key), attempts in by_key.items():
        lifetimes: list[list[Attempt]] = []
        for attempt in sorted(attempts, key=lambda a: a.at):
            if not lifetimes or attempt.at - lifetimes[-1][0].at > LIFETIME_GAP_SECONDS:
                lifetimes.append([])
            lifetimes[-1].append(attempt)
        for lifetime in lifetimes:
            first: Attempt | None = None
            unanswered = False
            for attempt in lifetime:
                result = attempt.result
                if result is None:
                    unanswered = True
                    continue
                replayed = result.headers.get(REPLAYED) == "true"
                if result.status in REFUSALS:
                    if replayed:
                        violations.append(
                            Violation(
                                1, f"{api} key {key}: a {result.status} was stored and replayed at {_label(attempt)}"
                            )
                        )
                    continue
                if first is None:
                    first = attempt
                    if replayed and not unanswered:
                        violations.append(
                            Violation(
                                1,
                                f"{api} key {key}: the first answer of a key lifetime, at {_label(attempt)}, "
                                "is a replay (of an earlier lifetime's answer?)",
                            )
                        )
                    continue
                assert first.result is not None
                if (result.status, result.body) != (first.result.status, first.result.body):
                    violations.append(
                        Violation(
                            1,
                            f"{api} key {key}: {_label(attempt)} answered {result.status} {result.body[:200]!r}, "
                            f"not the first stored answer ({_label(first)}: {first.result.status} "
                            f"{first.result.body[:200]!r})",
                        )
                    )
                elif not replayed and not attempt.nested and not first.nested and not first.fault_fired:
                    # A first answer a fault hit may not have been stored (its completion failed): the repeat is
                    # then a re-execution, the first stored answer, byte for byte and rightly not a replay.
                    violations.append(
                        Violation(
                            1, f"{api} key {key}: {_label(attempt)} repeats the answer without Idempotency-Replayed"
                        )
                    )
            if first is not None:
                unanswered = False
    return violations


def request_ids(answer: dict[str, Any], api: str) -> list[str]:
    """The request ids a 202 names, each usable on the status route (a bulk request's items have their own)."""
    if api == "bulk":
        return [item["request_id"] for item in answer.get("response", [])]
    return [answer["request_id"]]


def _statuses(game: Game, played: Played) -> tuple[list[Violation], dict[str, dict[str, Any]]]:
    """Invariant 3, and every notification the status route shows (msg_id -> its status)."""
    violations: list[Violation] = []
    shown: dict[str, dict[str, Any]] = {}
    seen: set[tuple[str, str]] = set()
    for attempt in played.attempts:
        result = attempt.result
        if result is None or result.status != 202:
            continue
        for request_id in request_ids(result.json(), attempt.request.api):
            if (request_id, attempt.request.version) in seen:
                continue
            seen.add((request_id, attempt.request.version))
            status = game.status.get(request_id, version=attempt.request.version)
            if status.status != 200:
                violations.append(
                    Violation(3, f"{_label(attempt)} was answered 202, its request {request_id} is a {status.status}")
                )
                continue
            for notification in status.json()["notifications"]:
                shown[notification["msg_id"]] = notification
                if notification["state"] not in FINAL_STATES:
                    violations.append(
                        Violation(
                            3,
                            f"{_label(attempt)}: notification {notification['msg_id']} stays {notification['state']} "
                            f"({notification.get('reason')}) once the queues are drained",
                        )
                    )
    for message in played.dead_letters:
        notification = shown.get(message.get("msg_id", ""))
        if notification is not None and notification["state"] != "failed":
            violations.append(
                Violation(3, f"msg_id {message['msg_id']} is in the dead-letter queue, shown {notification['state']}")
            )
    return violations, shown


def at_most_once(world: World, shown: dict[str, dict[str, Any]]) -> list[Violation]:
    """Invariant 2."""
    violations = [
        Violation(2, f"msg_id {msg_id} reached a provider {count} times")
        for msg_id, count in world.ledger.receptions.items()
        if count > 1
    ]
    for msg_id in sorted(world.ledger.ambiguous):
        if msg_id in shown and shown[msg_id]["state"] != "unknown":
            violations.append(
                Violation(
                    2,
                    f"msg_id {msg_id}: its provider outcome was ambiguous, it is shown {shown[msg_id]['state']} "
                    f"({shown[msg_id].get('reason')})",
                )
            )
    for msg_id in sorted(world.ledger.receptions):
        if msg_id in shown and shown[msg_id]["state"] in ("failed", "skipped", "queued"):
            violations.append(
                Violation(
                    2,
                    f"msg_id {msg_id} reached a provider, it is shown {shown[msg_id]['state']} "
                    f"({shown[msg_id].get('reason')})",
                )
            )
    return violations


def cancelled_never_sent(world: World, played: Played, shown: dict[str, dict[str, Any]]) -> list[Violation]:
    """Invariant 2 for cancels (C1, C4): a notification a cancel answered `cancelled` never reaches a provider, and
    the status route shows it cancelled."""
    violations: list[Violation] = []
    for attempt in played.attempts:
        result = attempt.result
        if attempt.request.api != "cancel" or result is None or result.status != 200:
            continue
        for cancelled in result.json()["cancelled"]:
            msg_id = cancelled["msg_id"]
            if world.ledger.receptions[msg_id]:
                violations.append(Violation(2, f"msg_id {msg_id}, cancelled at {_label(attempt)}, reached a provider"))
            if msg_id in shown and shown[msg_id]["state"] != "cancelled":
                violations.append(
                    Violation(2, f"msg_id {msg_id}, cancelled at {_label(attempt)}, is shown {shown[msg_id]['state']}")
                )
    return violations


def no_5xx_for_mistakes(played: Played) -> list[Violation]:
    """Invariant 4."""
    violations: list[Violation] = []
    marker = played.scenario.marker
    for attempt in played.attempts:
        result = attempt.result
        if result is None:
            continue
        if result.status >= 500:
            leak = [word for word in ("Traceback", 'File "', marker, "@example.com") if word in result.body]
            try:
                body = json.loads(result.body)
                shaped = body.get("status") == "error" and set(body) <= {"_message", "status", "request_id", "errors"}
            except ValueError:
                shaped = False
            if leak or not shaped:
                violations.append(
                    Violation(
                        4,
                        f"{_label(attempt)}: the {result.status} body leaks {leak or 'its shape'}: "
                        f"{result.body[:300]!r}",
                    )
                )
        mistake = attempt.request.mistake
        if mistake is None or result.headers.get(REPLAYED) == "true":
            # A key reused with a mistaken body gets the key's first stored answer, whatever it is (invariant 1).
            continue
        if result.status >= 500 and not (result.status == 503 and attempt.fault_fired):
            violations.append(
                Violation(4, f"{_label(attempt)}: a client mistake answered {result.status} {result.body[:200]!r}")
            )
        if result.status < 300:
            violations.append(Violation(4, f"{_label(attempt)}: a client mistake answered {result.status}"))
    return violations


def within_dynamodb_limits(world: World) -> list[Violation]:
    """Invariant 5."""
    return [Violation(5, breach) for breach in dict.fromkeys(world.limits.breaches)]


def check(world: World, game: Game, played: Played) -> list[Violation]:
    """Every invariant, after the scenario's queues were drained."""
    statuses, shown = _statuses(game, played)
    problems = [Violation(3, problem) for problem in played.problems]
    return [
        *idempotent_answers(played),
        *at_most_once(world, shown),
        *cancelled_never_sent(world, played, shown),
        *statuses,
        *problems,
        *no_5xx_for_mistakes(played),
        *within_dynamodb_limits(world),
    ]
