"""The idempotency contract against a deployed stack (skipped unless E2E_ENV is set)."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

from tests.support.deployed import DeployedStack

pytestmark = pytest.mark.e2e


def post(stack: DeployedStack, version: str, body: dict, key: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(  # noqa: S310 - the stack's own https URL
        f"{stack.api_url}/v1/{stack.workspace}/{version}/event",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {stack.api_key}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()


def test_R4_retry_with_the_same_key_replays_the_first_answer(deployed: DeployedStack) -> None:
    body = {"event": "Welcome_Email", "to": {"email": "e2e@example.com"}, "data": {"name": "E2E"}}
    key = str(uuid.uuid4())
    live_first = post(deployed, "live", body, key)
    live_again = post(deployed, "live", {**body, "data": {"name": "changed"}}, key)
    assert live_first[0] == live_again[0] == 202
    assert live_again[2] == live_first[2]
    assert live_again[1].get("idempotency-replayed") == "true"
