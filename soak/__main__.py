"""`python -m soak` (`make soak`): see soak/__init__.py and docs/soak.md."""

from __future__ import annotations

import argparse
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soak", description="Seeded random fault schedules and invariants.")
    parser.add_argument("--seed", type=int, default=None, help="the run's seed (default: drawn, and printed)")
    parser.add_argument("--scenarios", type=int, default=10_000, help="how many scenarios (default 10000)")
    parser.add_argument("--scenario", type=int, default=None, help="play only this scenario of the seed")
    parser.add_argument("--steps", default=None, help="with --scenario: only these steps (comma-separated)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--no-shrink", action="store_true", help="report failing scenarios whole")
    parser.add_argument(
        "--dynamodb-local", action="store_true", help="tables on AWS's DynamoDB Local (one per worker), not moto"
    )
    args = parser.parse_args(argv)

    from tests.support.environment import isolate_environment

    isolate_environment()  # before anything imports boto3 or Powertools; the workers inherit it
    from soak.runner import run

    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    indices = [args.scenario] if args.scenario is not None else list(range(args.scenarios))
    steps = [int(step) for step in args.steps.split(",") if step] if args.steps else None
    if steps is not None and args.scenario is None:
        parser.error("--steps needs --scenario")
    started = time.monotonic()
    if args.dynamodb_local:
        from local.dynamodb_local import unavailable_reason

        if (reason := unavailable_reason()) is not None:
            parser.error(f"DynamoDB Local cannot run here: {reason}")
    summary = run(
        seed,
        indices,
        workers=max(1, min(args.workers, len(indices))),
        shrinking=not args.no_shrink,
        steps=steps,
        dynamodb_local=args.dynamodb_local,
    )
    print(f"soak took {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 1 if summary.violations else 0


if __name__ == "__main__":
    sys.exit(main())
