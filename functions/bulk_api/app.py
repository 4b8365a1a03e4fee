"""Event Bulk API: POST /v1/{workspace}/{version}/event/bulk (SPEC section 2, rules R1-R9)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from notify.api import build_resolver, parse_body, to_response
from notify.logic.bulk import accept_bulk, bulk_channels
from notify.logic.definitions import require_event_definition
from notify.logic.idempotency import RequestScope, read_idempotency_options, run_idempotently
from notify.models.requests import BulkRequest
from notify.observability import logger, metrics, tracer

app = build_resolver()


@app.post("/v1/<workspace>/<version>/event/bulk")
@tracer.capture_method
def post_bulk(workspace: str, version: str) -> Response:
    # The whole body is validated before anything runs (R5): one bad item and nothing is stored or sent.
    request = parse_body(app, BulkRequest)
    options = read_idempotency_options(app.current_event.headers)
    definition = require_event_definition(workspace, request.event)
    channels = bulk_channels(request, definition)
    scope = RequestScope(workspace=workspace, api="bulk", version=version, options=options)
    stored = run_idempotently(
        scope,
        lambda: accept_bulk(scope, request, channels, scope.dedupe_until()),
        lambda_context=app.lambda_context,
    )
    return to_response(stored)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
