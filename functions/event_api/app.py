"""Event API: POST /v1/{workspace}/{version}/event (SPEC section 2, rules R1-R9)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from notify.api import build_resolver, parse_body, to_response
from notify.logic.definitions import require_event_definition
from notify.logic.events import accept_event, event_channels
from notify.logic.idempotency import RequestScope, read_idempotency_options, run_idempotently
from notify.models.requests import EventRequest
from notify.observability import logger, metrics, tracer

app = build_resolver()


@app.post("/v1/<workspace>/<version>/event")
@tracer.capture_method
def post_event(workspace: str, version: str) -> Response:
    # Everything up to run_idempotently can fail without storing anything (R5).
    request = parse_body(app, EventRequest)
    options = read_idempotency_options(app.current_event.headers)
    definition = require_event_definition(workspace, request.event)
    channels = event_channels(request, definition)
    scope = RequestScope(workspace=workspace, api="event", version=version, options=options)
    stored = run_idempotently(
        scope,
        lambda: accept_event(scope, request, channels, scope.dedupe_until()),
        lambda_context=app.lambda_context,
    )
    return to_response(stored)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
