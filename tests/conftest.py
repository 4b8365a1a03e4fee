"""Fixtures shared by every suite: no AWS account, no network beyond loopback."""

from __future__ import annotations

import os

# Set before any boto3 client exists; a developer's real credentials must never be used by tests.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_SERVICE_NAME": "notify",
    "POWERTOOLS_METRICS_NAMESPACE": "IdempotentNotify",
    "POWERTOOLS_DEV": "false",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("POWERTOOLS_IDEMPOTENCY_DISABLED", None)

# The shared harness (tests/support): its fixtures are available to every suite.
pytest_plugins = ["tests.support.plugin"]
