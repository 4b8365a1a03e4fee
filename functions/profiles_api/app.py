"""Profiles API: Fyno's routes under /v1/{workspace}/{version}/profiles (docs/contract.md section 6), and its
suppression list, /v1/{workspace}/suppressions (section 8): the recipients a workspace manages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import Response

from notify.api import http_function, lazy_module, to_response

if TYPE_CHECKING:
    from notify.logic import profiles, suppressions
    from notify.models import profiles as models
    from notify.models import suppressions as suppression_models
else:  # imported on the first request, not at cold start (notify/api.py)
    profiles = lazy_module("notify.logic.profiles")
    models = lazy_module("notify.models.profiles")
    suppressions = lazy_module("notify.logic.suppressions")
    suppression_models = lazy_module("notify.models.suppressions")

# Suppressions' modules are imported by their routes' first request only (not preloaded: profiles are the common case).
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


@function.get("/v1/<workspace>/suppressions")
def list_suppressions(workspace: str) -> Response:
    return to_response(suppressions.listed(workspace))


@function.post("/v1/<workspace>/suppressions")
def add_suppression(workspace: str) -> Response:
    return to_response(suppressions.add(workspace, function.body(suppression_models.SuppressionCreate)))


@function.delete("/v1/<workspace>/suppressions")
def remove_suppressions(workspace: str) -> Response:
    return to_response(suppressions.remove(workspace, dict(function.app.current_event.query_string_parameters or {})))
