"""End-to-end fixtures: a deployed stack, chosen by E2E_ENV (a samconfig.toml environment); skipped otherwise.

E2E_ENV=dev E2E_API_KEY=... E2E_WORKSPACE=ACME000001 .venv/bin/python -m pytest tests/e2e
"""

from __future__ import annotations

import os

import boto3
import pytest

from tests.support.deployed import DeployedStack, stack_name_for


@pytest.fixture(scope="session")
def deployed() -> DeployedStack:
    environment = os.environ.get("E2E_ENV")
    if not environment:
        pytest.skip("E2E_ENV names no deployed stack (set E2E_ENV, E2E_WORKSPACE and E2E_API_KEY)")
    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name_for(environment))["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}
    return DeployedStack(outputs["ApiUrl"], os.environ["E2E_WORKSPACE"], os.environ["E2E_API_KEY"])
