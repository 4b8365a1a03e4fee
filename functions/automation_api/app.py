"""Automations API: POST /v1/{workspace}/{version}/automation/{automation_id}/trigger (docs/contract.md, R1-R9)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from notify.api import http_function

function = http_function("automation_api", preload=("notify.logic.automations",))
lambda_handler = function.lambda_handler


@function.post("/v1/<workspace>/<version>/automation/<automation_id>/trigger")
def trigger_automation(workspace: str, version: str, automation_id: str) -> Response:
    # Imported on the first request, not at cold start (notify/api.py). Any JSON payload; every step must resolve
    # against it before anything is queued (R5).
    from notify.logic.automations import accept_automation

    return function.serve(
        "automation", workspace, version, lambda scope: accept_automation(scope, automation_id, function.json(empty={}))
    )
