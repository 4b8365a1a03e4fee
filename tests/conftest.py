"""Fixtures shared by every suite: no AWS account, no network beyond loopback."""

from __future__ import annotations

from tests.support.environment import isolate_environment

# Set before any boto3 client exists; a developer's real credentials must never be used by tests.
isolate_environment()

# The shared harness (tests/support): its fixtures are available to every suite.
pytest_plugins = ["tests.support.plugin"]
