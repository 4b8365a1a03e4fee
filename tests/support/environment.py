"""The environment every in-process run of the product gets (the test suites and `make soak`): no AWS account,
no endpoint of a developer's own, Powertools set as the template sets it."""

from __future__ import annotations

import os

TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_SERVICE_NAME": "notify",
    "POWERTOOLS_METRICS_NAMESPACE": "IdempotentNotify",
    "POWERTOOLS_DEV": "false",
}


def isolate_environment() -> None:
    """Set before any boto3 client exists; a developer's real credentials must never be used."""
    os.environ.update(TEST_ENVIRONMENT)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "POWERTOOLS_IDEMPOTENCY_DISABLED"):
        os.environ.pop(name, None)
