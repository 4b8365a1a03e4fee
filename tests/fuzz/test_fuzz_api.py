"""Schemathesis against the local stack, from the served OpenAPI document: every POST route, live and test.

For any generated input, valid or not: no 5xx, and a refused request stores nothing (R5). Each request
carries an Idempotency-Key of its own, so the idempotency table can be asked about exactly that key.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from requests.structures import CaseInsensitiveDict
from schemathesis import Case, GenerationMode

from tests.support.local_stack import LocalStackProcess

pytestmark = pytest.mark.integration

WORKSPACE, API_KEY = "WSLOCAL0001", "local-key-0001-aaaaaaaaaaaaaaaaaaaa"
# Which API a route is, as its idempotency scope names it (R2).
APIS = {
    "/v1/{workspace}/{version}/event": "event",
    "/v1/{workspace}/{version}/event/bulk": "bulk",
    "/v1/{workspace}/{version}/automation/{automation_id}/trigger": "automation",
    "/v1/{workspace}/{version}/automation/{automation_id}/cancel": "cancel",
}
# What each API answers when it executed (the cancel decides, and answers 200: C1).
EXECUTED = {"event": 202, "bulk": 202, "automation": 202, "cancel": 200}
# Each example is two requests (live and test): about 180 requests, well under a minute on 2 cores.
MAX_EXAMPLES = 30
# Names the seeded workspace defines (docs/contract.md section 5). Valid-by-schema inputs use them, or every one of
# them would be a 400 for an unknown event and nothing would ever execute.
KNOWN_EVENTS = ("Welcome_Email", "OrderConfirmed")
TEMPLATE_DATA = {"name": "Fuzz", "order_id": "F-1", "amount": "1"}
ONBOARDING_PAYLOAD: dict[str, Any] = {
    "email": "rahul@example.com",
    "phone": "+14155550100",
    "name": "R",
    "order": {"id": "1"},
}

KEYLESS_ROUTES = "/profiles|/suppressions"
schema = schemathesis.pytest.from_fixture("served_schema").include(method="POST").exclude(path_regex=KEYLESS_ROUTES)
# The Profiles API (docs/contract.md section 6) and the suppression list (section 8): every route and method, no
# Idempotency-Key (none applies).
profiles_schema = schemathesis.pytest.from_fixture("served_schema").include(path_regex=KEYLESS_ROUTES)
PROFILE_EXAMPLES = 12


def idempotency_record_id(api: str, key: str) -> str:
    """The record Powertools keeps for (workspace, api, key): `<api>#sha256(json [workspace, api, key])`.

    Checked against a real record after every accepted live request, so this cannot silently drift.
    """
    scoped = json.dumps([WORKSPACE, api, key], sort_keys=True)
    return f"{api}#{hashlib.sha256(scoped.encode()).hexdigest()}"


def aim_at_seeded_definitions(case: Case) -> None:
    """A valid-by-schema input names a seeded event or automation and has an email recipient (both events
    define email), so it gets past the lookups and executes; everything else in it stays as generated."""
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE or not isinstance(case.body, dict):
        return
    body: dict[str, Any] = case.body
    if APIS[case.path] == "cancel":
        case.path_parameters = {**(case.path_parameters or {}), "automation_id": "onboarding"}
        return
    if APIS[case.path] == "automation":
        case.path_parameters = {**(case.path_parameters or {}), "automation_id": "onboarding"}
        case.body = {**body, **ONBOARDING_PAYLOAD}
        return
    deliveries = body["batch"] if APIS[case.path] == "bulk" else [body]
    for delivery in deliveries:
        to = delivery.get("to") or {}
        delivery["to"] = {**to, "email": to.get("email") or "fuzz@example.com"}
        # What the seeded templates need (D8), under whatever else was generated.
        delivery["data"] = {**TEMPLATE_DATA, **(delivery.get("data") or {})}
    body["event"] = KNOWN_EVENTS[len(json.dumps(body)) % 2]


def stored_record(stack: LocalStackProcess, record_id: str) -> dict[str, Any] | None:
    item = stack.client("dynamodb").get_item(
        TableName="IdempotencyTable", Key={"id": {"S": record_id}}, ConsistentRead=True
    )
    return item.get("Item")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_5xx_and_a_refused_request_stores_nothing(case: Case, fuzz_stack: LocalStackProcess) -> None:
    aim_at_seeded_definitions(case)
    generated: dict[str, Any] = dict(case.headers or {})
    generated_key = generated.get("Idempotency-Key", "")
    # Each generated input goes to both versions: live stores what it executes (R3), test never stores (R7).
    for version in ("live", "test"):
        case.path_parameters = {**(case.path_parameters or {}), "workspace": WORKSPACE, "version": version}
        key = f"fuzz-{uuid.uuid4()}-{generated_key}".strip()
        case.headers = CaseInsensitiveDict({**generated, "Authorization": f"Bearer {API_KEY}", "Idempotency-Key": key})

        response = case.call(base_url=f"http://127.0.0.1:{fuzz_stack.api_port}", timeout=35)

        curl = case.as_curl_command()
        assert response.status_code < 500, f"{response.status_code} {response.text[:500]}\n{curl}"
        record = stored_record(fuzz_stack, idempotency_record_id(APIS[case.path], key))
        if response.status_code >= 400 or version == "test":
            # R5: nothing stored for a request refused before execution; R7: nothing stored on test at all.
            assert record is None, f"{response.status_code} on {version} stored a record\n{curl}"
        else:
            assert response.status_code == EXECUTED[APIS[case.path]], (
                f"{response.status_code} {response.text[:500]}\n{curl}"
            )
            assert record is not None and record["status"]["S"] == "COMPLETED", curl


@profiles_schema.parametrize()
@settings(max_examples=PROFILE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_profiles_routes_never_answer_5xx_and_answer_fynos_shapes(case: Case, fuzz_stack: LocalStackProcess) -> None:
    """Any input to any Profiles route, on live and test: a 2xx with `status: ok` (or the profile), or a 4xx with
    `status: error`; never a 5xx or a stack trace."""
    for version in ("live", "test"):
        case.path_parameters = {**(case.path_parameters or {}), "workspace": WORKSPACE, "version": version}
        case.headers = CaseInsensitiveDict({**dict(case.headers or {}), "Authorization": f"Bearer {API_KEY}"})

        response = case.call(base_url=f"http://127.0.0.1:{fuzz_stack.api_port}", timeout=35)

        curl = case.as_curl_command()
        assert response.status_code < 500, f"{response.status_code} {response.text[:500]}\n{curl}"
        if response.status_code == 404 and "message" in response.json():
            continue  # API Gateway's own answer: a path parameter the route cannot match (e.g. an encoded '/')
        body = response.json()
        assert "Traceback" not in response.text, curl
        if response.status_code >= 400:
            assert body["status"] == "error" and body["_message"], curl
        elif case.method != "GET":
            assert body["status"] == "ok" and body["_message"], curl
