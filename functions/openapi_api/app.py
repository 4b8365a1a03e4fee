"""OpenAPI document: GET /v1/openapi.json, no authentication (the auth middleware guards workspace routes only)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from notify import snapstart
from notify.api import build_resolver
from notify.environment import require_environment
from notify.logic.responses import JSON
from notify.observability import logger, metrics, tracer

# Cold start: stop here, naming the variable, when the template did not give one this function needs.
require_environment("openapi_api")
app = build_resolver()
# With SnapStart (off by default), the snapshot holds what the first request would import.
snapstart.register(preload=("notify.openapi",))


@app.get("/v1/openapi.json")
def get_openapi() -> Response:
    # Imported on the first request, not at cold start (notify/api.py): it builds every model's schema.
    from notify.openapi import render_openapi

    return Response(status_code=200, content_type=JSON, body=render_openapi())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
