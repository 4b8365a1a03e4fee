"""OpenAPI document: GET /v1/openapi.json, no authentication (the auth middleware guards workspace routes only)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from notify.api import build_resolver
from notify.logic.responses import JSON
from notify.observability import logger, metrics, tracer
from notify.openapi import render_openapi

app = build_resolver()


@app.get("/v1/openapi.json")
def get_openapi() -> Response:
    return Response(status_code=200, content_type=JSON, body=render_openapi())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
