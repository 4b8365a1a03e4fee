"""Event API: POST /v1/{workspace}/{version}/event (docs/contract.md, rules R1-R9)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from notify.api import http_function

function = http_function("event_api", preload=("notify.logic.events", "notify.models.requests"))
lambda_handler = function.lambda_handler


@function.post("/v1/<workspace>/<version>/event", idempotent="event")
def post_event(workspace: str, version: str) -> Response:
    # Imported on the first request, not at cold start (notify/api.py). The body is parsed inside the claimed
    # section: a stored answer replays whatever it now says (R4).
    from notify.logic.events import accept_event
    from notify.models.requests import EventRequest

    return function.serve("event", workspace, version, lambda scope: accept_event(scope, function.body(EventRequest)))
