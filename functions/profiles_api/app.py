"""Profiles API: Fyno's routes under /v1/{workspace}/{version}/profiles (docs/contract.md section 6)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from notify import snapstart
from notify.api import build_resolver, parse_body, to_response
from notify.environment import require_environment
from notify.observability import logger, metrics, tracer

# Cold start: stop here, naming the variable, when the template did not give one this function needs.
require_environment("profiles_api")
app = build_resolver()
# With SnapStart (off by default), the snapshot holds what the first request would import.
snapstart.register(preload=("notify.logic.profiles", "notify.models.profiles"))

# Imported on the first request, not at cold start (notify/api.py): every route below needs them.


@app.post("/v1/<workspace>/<version>/profiles")
@tracer.capture_method
def create_profile(workspace: str, version: str) -> Response:
    from notify.logic import profiles
    from notify.models.profiles import ProfileCreate

    return to_response(profiles.create(workspace, version, parse_body(app, ProfileCreate)))


@app.get("/v1/<workspace>/<version>/profiles/<distinct_id>")
@tracer.capture_method
def get_profile(workspace: str, version: str, distinct_id: str) -> Response:
    from notify.logic import profiles

    return to_response(profiles.read(workspace, version, profiles.path_distinct_id(distinct_id)))


@app.put("/v1/<workspace>/<version>/profiles/<distinct_id>")
@tracer.capture_method
def replace_profile(workspace: str, version: str, distinct_id: str) -> Response:
    from notify.logic import profiles
    from notify.models.profiles import ProfileUpdate

    distinct_id = profiles.path_distinct_id(distinct_id)
    return to_response(profiles.replace(workspace, version, distinct_id, parse_body(app, ProfileUpdate)))


@app.patch("/v1/<workspace>/<version>/profiles/<distinct_id>/channel")
@tracer.capture_method
def patch_profile_channels(workspace: str, version: str, distinct_id: str) -> Response:
    from notify.logic import profiles
    from notify.models.profiles import ChannelPatch

    distinct_id = profiles.path_distinct_id(distinct_id)
    return to_response(profiles.patch_channels(workspace, version, distinct_id, parse_body(app, ChannelPatch)))


@app.post("/v1/<workspace>/<version>/profiles/<distinct_id>/channel/delete")
@tracer.capture_method
def delete_profile_channels(workspace: str, version: str, distinct_id: str) -> Response:
    from notify.logic import profiles
    from notify.models.profiles import ChannelDelete

    distinct_id = profiles.path_distinct_id(distinct_id)
    return to_response(profiles.delete_channels(workspace, version, distinct_id, parse_body(app, ChannelDelete)))


@app.patch("/v1/<workspace>/<version>/profiles/<source>/merge/<target>")
@tracer.capture_method
def merge_profiles(workspace: str, version: str, source: str, target: str) -> Response:
    from notify.logic import profiles

    source_id = profiles.path_distinct_id(source, "source")
    return to_response(profiles.merge(workspace, version, source_id, profiles.path_distinct_id(target, "target")))


@app.post("/v1/<workspace>/<version>/profiles/delete")
@tracer.capture_method
def delete_profiles(workspace: str, version: str) -> Response:
    from notify.logic import profiles
    from notify.models.profiles import ProfilesDelete

    return to_response(profiles.delete_many(workspace, version, parse_body(app, ProfilesDelete)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
