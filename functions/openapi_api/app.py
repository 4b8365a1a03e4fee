"""OpenAPI document: GET /v1/openapi.json, no authentication (the auth middleware guards workspace routes only)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from notify.api import http_function
from notify.logic.responses import JSON

function = http_function("openapi_api", preload=("notify.openapi",))
lambda_handler = function.lambda_handler


@function.get("/v1/openapi.json")
def get_openapi() -> Response:
    from notify.openapi import render_openapi  # on the first request: it builds every model's schema

    return Response(status_code=200, content_type=JSON, body=render_openapi())
