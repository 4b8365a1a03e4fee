"""samconfig.toml, the Makefile and the e2e tests agree on one stack per environment."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.support.deployed import stack_name_for

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("default", "dev", "prod")


def test_each_environment_has_its_own_stack() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    assert set(ENVIRONMENTS) <= set(config)
    names = [stack_name_for(environment) for environment in ENVIRONMENTS]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_make_deploys_the_stack_the_tests_read(environment: str) -> None:
    made = subprocess.run(  # noqa: S603 - fixed arguments
        ["make", "--no-print-directory", "stack-name", f"ENV={environment}"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert made.stdout.strip() == stack_name_for(environment)
