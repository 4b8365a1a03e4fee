"""Routes as clients call them (docs/contract.md section 2): a trailing slash is the same route; an unknown route is a
404 and a known route asked with another method a 405 with `Allow`, both in the error shape `{"_message", "status"}`.

What API Gateway does with the template's routes (the trailing-slash twins, the $default route to the OpenAPI
function) is checked in tests/infrastructure/test_template.py; here, what each function answers.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from local.container import import_function
from tests.support.clients import EventApiClient, ProfilesApi, StatusApiClient, welcome
from tests.support.stack import FakeLambdaContext, Stack, sample_event


def unmatched(method: str, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The request as the $default route hands it to the OpenAPI function."""
    event = copy.deepcopy(sample_event("openapi_api/get_openapi.json"))
    event["routeKey"] = event["requestContext"]["routeKey"] = "$default"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["headers"] = headers or {}
    response: dict[str, Any] = import_function("openapi_api").lambda_handler(event, FakeLambdaContext())
    response["json"] = json.loads(response["body"])
    return response


@pytest.mark.parametrize("path", ["/nowhere", "/v1/WSLOCAL0001/live/nothing", "/v1/WSLOCAL0001/live/event/bulk/x", "/"])
def test_an_unknown_route_is_404_in_the_error_shape(stack: Stack, path: str) -> None:
    response = unmatched("GET", path, {"authorization": "Bearer not-a-key"})

    assert response["statusCode"] == 404
    assert response["json"] == {"_message": "Not found", "status": "error"}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/v1/WSLOCAL0001/live/event", "POST"),
        ("DELETE", "/v1/WSLOCAL0001/live/event/", "POST"),
        ("POST", "/v1/WSLOCAL0001/live/profiles/user-1", "GET, PUT"),
        ("GET", "/v1/WSLOCAL0001/live/profiles/", "POST"),
        ("PUT", "/v1/openapi.json", "GET"),
    ],
)
def test_a_known_route_with_another_method_is_405_with_allow(stack: Stack, method: str, path: str, allow: str) -> None:
    # No API key: the route is decided before the key is looked at, as a gateway routes before it authorizes.
    response = unmatched(method, path)

    assert response["statusCode"] == 405
    assert response["headers"]["Allow"] == allow
    assert response["json"]["status"] == "error"
    assert method in response["json"]["_message"]


def test_fyno_node_sdk_creates_a_profile_at_profiles_with_a_trailing_slash(profiles: ProfilesApi) -> None:
    created = profiles.call("POST", "profiles/", {"distinct_id": "sdk-user", "channel": {"email": "sdk@example.com"}})

    assert (created.status, created.body) == (201, {"_message": "Profile created successfully", "status": "ok"})
    assert profiles.call("GET", "profiles/sdk-user/").body["channel"] == {"email": "sdk@example.com"}
    patched = profiles.call("PATCH", "profiles/sdk-user/channel/", {"channel": {"sms": "+14155550100"}})
    assert patched.status == 200
    assert profiles.get("sdk-user").body["channel"] == {"email": "sdk@example.com", "sms": "+14155550100"}


def test_the_event_and_status_apis_answer_with_a_trailing_slash(
    client: EventApiClient, status: StatusApiClient
) -> None:
    accepted = client.post(welcome(), route="event/")

    assert accepted.status == 202
    assert status.get(accepted.json()["request_id"] + "/").status == 200


def test_a_trailing_slash_route_still_needs_the_api_key(profiles: ProfilesApi) -> None:
    answer = profiles.call("POST", "profiles/", {"distinct_id": "x"}, api_key=None)

    assert (answer.status, answer.body) == (401, {"_message": "Invalid API details", "status": "error"})


def test_a_path_matches_the_same_routes_remembered_or_not() -> None:
    """allowed_methods remembers short paths per container (issue 25); a long one is matched each time, alike."""
    from notify.routes import MAX_REMEMBERED_PATH, allowed_methods

    short = "/v1/ws-1/live/event"
    long = "/v1/" + "w" * MAX_REMEMBERED_PATH + "/live/event"
    assert allowed_methods(short) == allowed_methods(short) == ["POST"]
    assert allowed_methods(long) == ["POST"]
    assert allowed_methods("/v1/ws-1/live/nothing-here") == []
