"""Automations API: POST /v1/{workspace}/{version}/automation/{automation_id}/trigger (rules R1-R9).

Rule ids (R1..R9, D1..D7) are those of docs/contract.md.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from notify import snapstart
from notify.api import build_resolver, parse_json, serve
from notify.environment import require_environment
from notify.observability import logger, metrics, tracer

# Cold start: stop here, naming the variable, when the template did not give one this function needs.
require_environment("automation_api")
app = build_resolver()
# With SnapStart (off by default), the snapshot holds what the first request would import.
snapstart.register(preload=("notify.logic.automations",))


@app.post("/v1/<workspace>/<version>/automation/<automation_id>/trigger")
@tracer.capture_method
def trigger_automation(workspace: str, version: str, automation_id: str) -> Response:
    # Any JSON payload; every step must resolve against it before anything is queued (R5).
    # Imported on the first request, not at cold start (notify/api.py).
    from notify.logic.automations import accept_automation

    return serve(
        app,
        "automation",
        workspace,
        version,
        lambda scope: accept_automation(scope, automation_id, parse_json(app, empty={})),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
