"""Profiles API: Fyno's routes under /v1/{workspace}/{version}/profiles (docs/contract.md section 6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import Response

from notify.api import http_function, lazy_module, to_response

if TYPE_CHECKING:
    from notify.logic import profiles
    from notify.models import profiles as models
else:  # imported on the first request, not at cold start (notify/api.py)
    profiles = lazy_module("notify.logic.profiles")
    models = lazy_module("notify.models.profiles")

function = http_function("profiles_api", preload=("notify.logic.profiles", "notify.models.profiles"))
lambda_handler = function.lambda_handler


@function.post("/v1/<workspace>/<version>/profiles")
def create_profile(workspace: str, version: str) -> Response:
    return to_response(profiles.create(workspace, version, function.body(models.ProfileCreate)))


@function.get("/v1/<workspace>/<version>/profiles/<distinct_id>")
def get_profile(workspace: str, version: str, distinct_id: str) -> Response:
    return to_response(profiles.read(workspace, version, profiles.path_distinct_id(distinct_id)))


@function.put("/v1/<workspace>/<version>/profiles/<distinct_id>")
def replace_profile(workspace: str, version: str, distinct_id: str) -> Response:
    distinct_id = profiles.path_distinct_id(distinct_id)
    return to_response(profiles.replace(workspace, version, distinct_id, function.body(models.ProfileUpdate)))


@function.patch("/v1/<workspace>/<version>/profiles/<distinct_id>/channel")
def patch_profile_channels(workspace: str, version: str, distinct_id: str) -> Response:
    distinct_id = profiles.path_distinct_id(distinct_id)
    return to_response(profiles.patch_channels(workspace, version, distinct_id, function.body(models.ChannelPatch)))


@function.post("/v1/<workspace>/<version>/profiles/<distinct_id>/channel/delete")
def delete_profile_channels(workspace: str, version: str, distinct_id: str) -> Response:
    distinct_id = profiles.path_distinct_id(distinct_id)
    return to_response(profiles.delete_channels(workspace, version, distinct_id, function.body(models.ChannelDelete)))


@function.patch("/v1/<workspace>/<version>/profiles/<source>/merge/<target>")
def merge_profiles(workspace: str, version: str, source: str, target: str) -> Response:
    source_id = profiles.path_distinct_id(source, "source")
    return to_response(profiles.merge(workspace, version, source_id, profiles.path_distinct_id(target, "target")))


@function.post("/v1/<workspace>/<version>/profiles/delete")
def delete_profiles(workspace: str, version: str) -> Response:
    return to_response(profiles.delete_many(workspace, version, function.body(models.ProfilesDelete)))
