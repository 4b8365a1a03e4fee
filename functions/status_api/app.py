"""Status API: GET /v1/{workspace}/{version}/request/{request_id} (docs/contract.md sections 2 and 4), and the
idempotency key lookup GET /v1/{workspace}/{version}/idempotency/{api}/{key} (K1-K4): the read-only routes."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from notify.api import http_function, to_response
from notify.logic.responses import JSON

function = http_function("status_api", preload=("notify.logic.status", "notify.logic.idempotency"))
lambda_handler = function.lambda_handler


@function.get("/v1/<workspace>/<version>/request/<request_id>")
def get_request_status(workspace: str, version: str, request_id: str) -> Response:
    from notify.logic.status import request_status  # on the first request, not at cold start (notify/api.py)

    status = request_status(workspace, version, request_id)
    return Response(status_code=200, content_type=JSON, body=status.model_dump_json())


@function.get("/v1/<workspace>/<version>/idempotency/<api>/<key>")
def get_idempotency_key(workspace: str, version: str, api: str, key: str) -> Response:
    from notify.logic.idempotency import look_up_key  # on the first request, not at cold start (notify/api.py)

    return to_response(look_up_key(workspace, version, api, key))
