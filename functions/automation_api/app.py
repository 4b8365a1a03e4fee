"""Automations API: POST /v1/{workspace}/{version}/automation/{automation_id}/trigger (rules R1-R9)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from notify.api import build_resolver, parse_json, to_response
from notify.logic.automations import accept_automation, plan_automation
from notify.logic.definitions import require_automation
from notify.logic.idempotency import RequestScope, read_idempotency_options, run_idempotently
from notify.observability import logger, metrics, tracer

app = build_resolver()


@app.post("/v1/<workspace>/<version>/automation/<automation_id>/trigger")
@tracer.capture_method
def trigger_automation(workspace: str, version: str, automation_id: str) -> Response:
    # Any JSON payload; the automation's steps must all resolve against it before anything runs (R5).
    payload = parse_json(app, empty={})
    options = read_idempotency_options(app.current_event.headers)
    automation = require_automation(workspace, automation_id)
    steps = plan_automation(workspace, automation, payload)
    scope = RequestScope(workspace=workspace, api="automation", version=version, options=options)
    stored = run_idempotently(
        scope,
        lambda: accept_automation(scope, automation, steps, scope.dedupe_until()),
        lambda_context=app.lambda_context,
    )
    return to_response(stored)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
