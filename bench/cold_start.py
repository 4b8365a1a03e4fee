"""Cold start: the import time of each function module in fresh processes, against `import boto3` alone.

Each function is imported as the Lambda runtime imports it: its CodeUri first on sys.path, then its
layers' ContentUri, with the template's variables and the runtime's reserved ones in the environment.
Tracing is Active in the template, so, as in a deployed function (and unlike under `sam local`),
Powertools' Tracer loads the X-Ray SDK at import.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.lambda_environment import lambda_environment
from local.settings import LocalSettings
from local.template import TEMPLATE_PATH, FunctionSpec, LocalResources, function_environment, function_specs

RUNS = 7
TARGET_RATIO = 1.5
RUNTIME = "python3.13"
BASELINE = "boto3"

# Runs in the fresh process: put the function's code and layers on sys.path as Lambda does, drop any
# other copy of the shared layer (the venv's .pth names the main checkout's), time the one import.
_IMPORT_TIMER = """
import sys, time, importlib
module, *paths = sys.argv[1:]
sys.path[:] = paths + [p for p in sys.path if p not in paths and not p.rstrip("/").endswith("layers")]
started = time.perf_counter()
importlib.import_module(module)
print(time.perf_counter() - started)
"""
_IMPORTTIME_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


@dataclass
class ImportTiming:
    name: str  # the function's logical id, or the baseline module
    module: str
    seconds: list[float]
    ratio: float | None = None
    top_contributors: list[tuple[str, float]] | None = None  # (package, self ms beyond boto3), on a miss

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def verdict(self) -> str:
        if self.ratio is None:
            return "-"
        return "PASS" if self.ratio <= TARGET_RATIO else "MISS"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "runs_seconds": [round(s, 4) for s in self.seconds],
            "median_seconds": round(self.median, 4),
            "ratio_to_boto3": None if self.ratio is None else round(self.ratio, 2),
            "target_ratio": TARGET_RATIO,
            "verdict": self.verdict,
            "top_contributors_ms": None
            if self.top_contributors is None
            else [{"package": p, "self_ms": round(ms, 1)} for p, ms in self.top_contributors],
        }


@dataclass(frozen=True)
class _Target:
    name: str
    module: str
    paths: list[str]
    environment: dict[str, str]


def _deployed_environment(spec: FunctionSpec, local: LocalResources) -> dict[str, str]:
    settings = LocalSettings(api_port=0, moto_port=0, region=local.region, template_path=TEMPLATE_PATH)
    environment = lambda_environment(spec, function_environment(spec.logical_id, local), settings, RUNTIME)
    # A deployed function: real endpoints, and not under SAM CLI (which turns the Tracer off).
    for name in ("AWS_SAM_LOCAL", "AWS_ENDPOINT_URL"):
        environment.pop(name, None)
    return environment


def _targets() -> list[_Target]:
    local = LocalResources(region="us-east-1")  # names stay logical ids: nothing is called at import
    targets = []
    for spec in function_specs(local):
        paths = [str(spec.code_uri), *(str(layer) for layer in spec.layers)]
        module = spec.handler.rsplit(".", 1)[0]
        targets.append(_Target(spec.logical_id, module, paths, _deployed_environment(spec, local)))
    return targets


def _python(target: _Target, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Our own interpreter with `arguments` (a fixed script), in the target's directory and environment."""
    return subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, *arguments],
        env=target.environment,
        cwd=Path(target.paths[0]),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )


def _time_import(target: _Target, module: str) -> float:
    result = _python(target, "-c", _IMPORT_TIMER, module, *target.paths)
    return float(result.stdout.strip().splitlines()[-1])


def _import_self_times(target: _Target, module: str) -> dict[str, float]:
    """`python -X importtime` of one module: every module it loaded and its own (self) time, in ms."""
    script = "import sys; module, *paths = sys.argv[1:]; sys.path[:0] = paths; __import__(module)"
    result = _python(target, "-X", "importtime", "-c", script, module, *target.paths)
    matches = (_IMPORTTIME_LINE.match(line) for line in result.stderr.splitlines())
    return {match[4]: int(match[1]) / 1000 for match in matches if match}


def import_cost_beyond_boto3(target: _Target, top: int = 8) -> list[tuple[str, float]]:
    """Self import time of the modules the function loads and `import boto3` does not, summed per
    top-level package, largest first (ms): what the function's import costs beyond the baseline."""
    baseline_modules = set(_import_self_times(target, BASELINE))
    by_package: dict[str, float] = defaultdict(float)
    for name, self_ms in _import_self_times(target, target.module).items():
        if name not in baseline_modules:
            by_package[name.split(".")[0]] += self_ms
    return sorted(by_package.items(), key=lambda item: item[1], reverse=True)[:top]


def measure_cold_starts(runs: int = RUNS) -> list[ImportTiming]:
    """Median import time per function and of `import boto3`, interleaved run by run so drift hits all alike."""
    targets = _targets()
    baseline = ImportTiming(BASELINE, BASELINE, [])
    timings = {target.name: ImportTiming(target.name, target.module, []) for target in targets}
    for _ in range(runs):
        baseline.seconds.append(_time_import(targets[0], BASELINE))
        for target in targets:
            timings[target.name].seconds.append(_time_import(target, target.module))
    for target in targets:
        timing = timings[target.name]
        timing.ratio = timing.median / baseline.median
        if timing.verdict == "MISS":
            timing.top_contributors = import_cost_beyond_boto3(target)
    return [baseline, *timings.values()]
