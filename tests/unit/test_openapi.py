"""The OpenAPI document: generated from the models, committed up to date, served without a key, true to the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from local.template import resources_of_type
from notify.models.delivery import RequestStatus
from notify.models.responses import AutomationAccepted, BulkAccepted, ErrorBody, EventAccepted
from notify.openapi import build_openapi, render_openapi
from tests.support.clients import (
    ApiClient,
    AutomationApiClient,
    BulkApiClient,
    EventApiClient,
    StatusApiClient,
    welcome,
)
from tests.support.stack import FakeLambdaContext, Stack, load_function, sample_event

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "make openapi  (or: PYTHONPATH=layers .venv/bin/python -m notify.openapi > openapi.json)"


def test_committed_openapi_json_is_what_the_models_generate() -> None:
    committed = (ROOT / "openapi.json").read_text()
    assert committed == render_openapi(), f"openapi.json is stale; regenerate it with: {REGENERATE}"


def test_document_is_valid_openapi_3_1() -> None:
    document = build_openapi()
    assert document["openapi"].startswith("3.1")
    validate(document)


def template_routes() -> set[tuple[str, str]]:
    return {
        (event["Properties"]["Method"].lower(), event["Properties"]["Path"])
        for function in resources_of_type("AWS::Serverless::Function").values()
        for event in function["Properties"].get("Events", {}).values()
        # Not the $default route (no Path), nor the trailing-slash twins: the document lists each route once.
        if event["Type"] == "HttpApi" and not event["Properties"].get("Path", "/").endswith("/")
    }


def test_document_has_exactly_the_routes_of_the_template() -> None:
    documented = {
        (method, path) for path, item in build_openapi()["paths"].items() for method in item if method != "parameters"
    }
    assert documented == template_routes()


def parameter(document: dict[str, Any], name: str) -> dict[str, Any]:
    return document["components"]["parameters"][name]


def test_path_parameters_and_idempotency_headers_are_documented() -> None:
    document = build_openapi()
    assert parameter(document, "version")["schema"]["enum"] == ["live", "test"]
    assert parameter(document, "workspace")["schema"]["pattern"] == "^[A-Za-z0-9]{10,20}$"
    assert parameter(document, "IdempotencyKey")["name"] == "Idempotency-Key"
    assert parameter(document, "IdempotencyExpiration")["name"] == "x-idempotency-expiration"
    event = document["paths"]["/v1/{workspace}/{version}/event"]["post"]
    assert set(event["responses"]) >= {"202", "400", "401", "404", "409", "503"}
    assert "Idempotency-Replayed" in event["responses"]["202"]["headers"]
    assert "Retry-After" in event["responses"]["409"]["headers"]
    assert "Retry-After" in document["components"]["responses"]["ServiceUnavailable"]["headers"]
    assert document["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }


def get_openapi(headers: dict[str, str] | None = None) -> dict[str, Any]:
    event = sample_event("openapi_api/get_openapi.json")
    event["headers"] = {**event["headers"], **(headers or {})}
    response: dict[str, Any] = load_function("openapi_api").lambda_handler(event, FakeLambdaContext())
    return response


def test_document_is_served_without_an_api_key() -> None:
    response = get_openapi()
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"]) == json.loads((ROOT / "openapi.json").read_text())


def test_document_is_served_whatever_key_is_sent() -> None:
    assert get_openapi({"authorization": "Bearer not-a-key"})["statusCode"] == 200


# The 2xx and error bodies the handlers really send fit the documented response models.


def accepted(client: ApiClient, body: Any) -> dict[str, Any]:
    response = client.post(body, key=f"doc-{client.route}")
    assert response.status == 202, response.body
    answer: dict[str, Any] = response.json()
    return answer


def test_event_202_fits_the_documented_model(client: EventApiClient) -> None:
    EventAccepted.model_validate(accepted(client, welcome()), strict=True)


def test_bulk_202_fits_the_documented_model(bulk_client: BulkApiClient) -> None:
    body = {"event": "Welcome_Email", "batch": [welcome("a@example.com"), welcome("b@example.com")]}
    BulkAccepted.model_validate(accepted(bulk_client, body), strict=True)


def test_automation_202_fits_the_documented_model(automation_client: AutomationApiClient) -> None:
    payload = {"email": "a@example.com", "phone": "+14155550100", "name": "A", "order": {"id": "1", "amount": "2"}}
    AutomationAccepted.model_validate(accepted(automation_client, payload), strict=True)


def test_status_200_fits_the_documented_model(client: EventApiClient, stack: Stack) -> None:
    request_id = accepted(client, welcome())["request_id"]
    response = StatusApiClient(stack.workspaces[0]).get(request_id)
    assert response.status == 200
    RequestStatus.model_validate(response.json())


@pytest.mark.parametrize(
    ("body", "api_key"),
    [({"event": "Welcome_Email", "to": {"email": "nope"}}, "default"), (welcome(), None)],
    ids=["400-with-field-errors", "401"],
)
def test_error_bodies_fit_the_documented_model(
    client: EventApiClient, body: dict[str, Any], api_key: str | None
) -> None:
    response = client.post(body, api_key=api_key)
    assert response.status >= 400
    ErrorBody.model_validate(response.json(), strict=True)
