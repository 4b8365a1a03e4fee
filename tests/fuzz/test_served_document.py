"""GET /v1/openapi.json over HTTP: served by the stack without an API key, identical to the committed copy."""

from __future__ import annotations

import json

import pytest

from tests.support.local_stack import ROOT, LocalStackProcess

pytestmark = pytest.mark.integration


def test_openapi_document_is_served_without_an_api_key(fuzz_stack: LocalStackProcess) -> None:
    response = fuzz_stack.request("GET", "/v1/openapi.json")
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == json.loads((ROOT / "openapi.json").read_text())
