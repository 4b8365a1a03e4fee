"""Scenarios spread over worker processes (each with its own moto stack, kept for all its scenarios), a failing
scenario shrunk to fewer steps, and the report: one line per violation with its replay command, then the summary
`soak: <scenarios> scenarios, <requests> requests, <faults> faults, <violations> violations (seed <seed>)`."""

from __future__ import annotations

import multiprocessing
import os
import sys
import traceback
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from soak.invariants import Violation

PROGRESS_EVERY = 1000
_world_stack: ExitStack | None = None
_world = None


@dataclass
class Outcome:
    index: int
    requests: int = 0
    faults: int = 0
    violations: list[str] = field(default_factory=list)
    steps: list[int] | None = None  # the steps kept by shrinking (None: all of them)
    described: list[str] = field(default_factory=list)


def _start_world(dynamodb_urls: Any = None) -> None:
    """A worker's world, built once; its stdout (Powertools' logs and metrics) goes nowhere. With `dynamodb_urls`
    (a queue of DynamoDB Local endpoints, one per worker) its tables live on the one it takes."""
    global _world_stack, _world
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    # Powertools warns on every invocation that flushes no metric; the report is the soak's own lines.
    warnings.simplefilter("ignore")
    dynamodb_url = dynamodb_urls.get() if dynamodb_urls is not None else None
    # The harness's environment (no credentials, no endpoint, Powertools settings) and freezegun's ignore list.
    from tests.support.environment import isolate_environment

    isolate_environment()
    import freezegun

    import tests.support.plugin  # noqa: F401
    from soak.world import world

    # freezegun answers real time to any caller within five frames of a module on its ignore list, and a pool
    # worker's scenario runs just below multiprocessing's frames: the runner's own clock reads (an answer's time,
    # the drain's next wake-up) were the real date while the product's were simulated.
    freezegun.configure(
        default_ignore_list=[
            name for name in freezegun.config.settings.default_ignore_list if name != "multiprocessing"
        ]
    )

    _world_stack = ExitStack()
    _world = _world_stack.enter_context(world(dynamodb_url))


def play_one(seed: int, index: int, steps: list[int] | None = None, attempt: str = "") -> Outcome:
    """Scenario `index` of `seed` (only `steps` of it when given), played and checked in this worker's world."""
    from soak.invariants import check
    from soak.play import Game
    from soak.scenarios import draw

    assert _world is not None
    scenario = draw(seed, index)
    if steps is not None:
        scenario = scenario.only(steps)
    outcome = Outcome(index, steps=steps, described=[f"{n}: {s.describe()}" for n, s in enumerate(scenario.steps)])
    try:
        game = Game(_world, scenario, namespace=f"{index:07d}{attempt}")
        played = game.play()
        violations: list[Violation] = check(_world, game, played)
        outcome.requests = len(played.attempts)
        outcome.faults = played.faults
        outcome.violations = [str(v) for v in violations]
    except Exception:
        outcome.violations = [f"invariant 0: the scenario raised {traceback.format_exc(limit=6)}"]
    return outcome


def _invariants(outcome: Outcome) -> set[str]:
    return {violation.split(":", 1)[0] for violation in outcome.violations}


def shrink(seed: int, index: int, failed: Outcome) -> Outcome:
    """Drop steps one at a time while the same invariants still break: the smallest schedule found."""
    from soak.scenarios import draw

    kept = list(range(len(draw(seed, index).steps)))
    wanted = _invariants(failed)
    best, tries = failed, 0
    changed = True
    while changed and len(kept) > 1:
        changed = False
        for position in range(len(kept)):
            candidate = kept[:position] + kept[position + 1 :]
            tries += 1
            attempt = play_one(seed, index, candidate, attempt=f"s{tries}")
            if wanted <= _invariants(attempt):
                kept, best, changed = candidate, attempt, True
                break
    best.steps = kept if len(kept) < len(draw(seed, index).steps) else None
    return best


def run_index(job: tuple[int, int, bool]) -> Outcome:
    seed, index, shrinking = job
    outcome = play_one(seed, index)
    if outcome.violations and shrinking:
        # The full scenario's counts; the violations and steps of the smallest one that still fails.
        small = shrink(seed, index, outcome)
        small.requests, small.faults = outcome.requests, outcome.faults
        return small
    return outcome


@contextmanager
def _pool(workers: int, dynamodb_local: bool) -> Iterator[Any]:
    """Worker processes, each with its world; on DynamoDB Local, one instance per worker, stopped at the end."""
    context = multiprocessing.get_context("spawn")
    with ExitStack() as stack:
        urls = None
        if dynamodb_local:
            from local.dynamodb_local import DynamoDBLocal
            from local.process import free_port

            urls = context.Queue()
            for _ in range(workers):
                instance = DynamoDBLocal(free_port())
                stack.callback(instance.close)
                instance.wait_until_ready()
                urls.put(instance.url)
        pool = stack.enter_context(context.Pool(processes=workers, initializer=_start_world, initargs=(urls,)))
        yield pool


def outcomes(seed: int, indices: list[int], workers: int, shrinking: bool, dynamodb_local: bool) -> Iterator[Outcome]:
    jobs = [(seed, index, shrinking) for index in indices]
    with _pool(workers, dynamodb_local) as pool:
        yield from pool.imap(run_index, jobs, chunksize=max(1, min(25, len(jobs) // (workers * 8) or 1)))


def replay_command(seed: int, outcome: Outcome, dynamodb_local: bool = False) -> str:
    command = f"make soak{' DDB=local' if dynamodb_local else ''} SEED={seed} SCENARIO={outcome.index}"
    if outcome.steps is not None:
        command += f" STEPS={','.join(str(step) for step in outcome.steps)}"
    return command


@dataclass
class Summary:
    seed: int
    scenarios: int = 0
    requests: int = 0
    faults: int = 0
    violations: int = 0
    failing: list[Outcome] = field(default_factory=list)
    dynamodb_local: bool = False

    def line(self) -> str:
        return (
            f"soak: {self.scenarios} scenarios, {self.requests} requests, {self.faults} faults, "
            f"{self.violations} violations (seed {self.seed}{', DynamoDB Local' if self.dynamodb_local else ''})"
        )


def run(
    seed: int,
    indices: list[int],
    *,
    workers: int = 2,
    shrinking: bool = True,
    steps: list[int] | None = None,
    dynamodb_local: bool = False,
    out: Any = sys.stdout,
) -> Summary:
    """Play `indices` of `seed`; print each violation with its replay command, then the summary line (and a
    progress line on stderr every PROGRESS_EVERY scenarios)."""
    summary = Summary(seed, dynamodb_local=dynamodb_local)
    if steps is not None:
        found = _single(seed, indices[0], steps, dynamodb_local)
        results: Iterator[Outcome] = iter([found])
    else:
        results = outcomes(seed, indices, workers, shrinking, dynamodb_local)
    for outcome in results:
        summary.scenarios += 1
        if summary.scenarios % PROGRESS_EVERY == 0:
            print(f"soak: {summary.scenarios} of {len(indices)} scenarios played", file=sys.stderr, flush=True)
        summary.requests += outcome.requests
        summary.faults += outcome.faults
        if outcome.violations:
            summary.violations += len(outcome.violations)
            summary.failing.append(outcome)
            for violation in outcome.violations:
                print(f"violation (seed {seed}, scenario {outcome.index}): {violation}", file=out)
            print(f"  replay: {replay_command(seed, outcome, dynamodb_local)}", file=out)
            for described in outcome.described:
                print(f"    step {described}", file=out)
            out.flush()
    print(summary.line(), file=out)
    return summary


def _single(seed: int, index: int, steps: list[int], dynamodb_local: bool) -> Outcome:
    with _pool(1, dynamodb_local) as pool:
        outcome: Outcome = pool.apply(play_one, (seed, index, steps))
        return outcome
