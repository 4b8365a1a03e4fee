"""Automations API: POST /v1/{workspace}/{version}/automation/{automation_id}/trigger (docs/contract.md, R1-R9), and
the cancel of a run's delayed steps, POST /v1/{workspace}/{version}/automation/{automation_id}/cancel (C1-C6)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from notify.api import http_function

_PRELOAD = ("notify.logic.automations", "notify.logic.cancellations", "notify.models.requests")
function = http_function("automation_api", preload=_PRELOAD)
lambda_handler = function.lambda_handler


@function.post("/v1/<workspace>/<version>/automation/<automation_id>/trigger", idempotent="automation")
def trigger_automation(workspace: str, version: str, automation_id: str) -> Response:
    # Imported on the first request, not at cold start (notify/api.py). Any JSON payload; every step must resolve
    # against it before anything is queued (R5).
    from notify.logic.automations import accept_automation

    headers = function.app.current_event.headers
    return function.serve(
        "automation",
        workspace,
        version,
        lambda scope: accept_automation(scope, automation_id, function.json(empty={}), headers),
    )


@function.post("/v1/<workspace>/<version>/automation/<automation_id>/cancel", idempotent="cancel")
def cancel_automation(workspace: str, version: str, automation_id: str) -> Response:
    # Idempotent like the other POSTs, in its own key scope (C3): its answer is stored and replayed.
    from notify.logic.cancellations import accept_cancel
    from notify.models.requests import CancelRequest

    return function.serve(
        "cancel", workspace, version, lambda scope: accept_cancel(scope, automation_id, function.body(CancelRequest))
    )
