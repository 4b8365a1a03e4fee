"""Event Bulk API: POST /v1/{workspace}/{version}/event/bulk (docs/contract.md, rules R1-R9)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from notify.api import http_function

function = http_function("bulk_api", preload=("notify.logic.bulk", "notify.models.requests"))
lambda_handler = function.lambda_handler


@function.post("/v1/<workspace>/<version>/event/bulk", idempotent="bulk")
def post_bulk(workspace: str, version: str) -> Response:
    # Imported on the first request, not at cold start (notify/api.py). The whole body is validated before
    # anything is queued: one bad item and nothing is stored or sent (R5).
    from notify.logic.bulk import accept_bulk
    from notify.models.requests import BulkRequest

    return function.serve("bulk", workspace, version, lambda scope: accept_bulk(scope, function.body(BulkRequest)))
