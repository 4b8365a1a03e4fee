"""Event Bulk API: POST /v1/{workspace}/{version}/event/bulk (docs/contract.md, rules R1-R9)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from notify import snapstart
from notify.api import build_resolver, parse_body, serve
from notify.environment import require_environment
from notify.observability import logger, metrics, tracer

# Cold start: stop here, naming the variable, when the template did not give one this function needs.
require_environment("bulk_api")
app = build_resolver()
# With SnapStart (off by default), the snapshot holds what the first request would import.
snapstart.register(preload=("notify.logic.bulk", "notify.models.requests"))


@app.post("/v1/<workspace>/<version>/event/bulk")
@tracer.capture_method
def post_bulk(workspace: str, version: str) -> Response:
    # The whole body is validated before anything is queued: one bad item and nothing is stored or sent (R5).
    # Imported on the first request, not at cold start (notify/api.py).
    from notify.logic.bulk import accept_bulk
    from notify.models.requests import BulkRequest

    return serve(app, "bulk", workspace, version, lambda scope: accept_bulk(scope, parse_body(app, BulkRequest)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
