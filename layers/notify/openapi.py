"""The OpenAPI 3.1 document of the whole API, generated from the pydantic models (docs/contract.md section 2).

Served at `GET /v1/openapi.json` and committed as `openapi.json`; regenerate the copy with `make openapi`
(`python -m notify.openapi > openapi.json`).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from notify.api import VERSIONS
from notify.logic.idempotency import EXPIRATION_HEADER, LOOKUP_APIS, REPLAYED_HEADER
from notify.models.delivery import RequestStatus
from notify.models.limits import MAX_CANCELLATION_KEY_CHARACTERS
from notify.models.profiles import ChannelDelete, ChannelPatch, Profile, ProfileCreate, ProfilesDelete, ProfileUpdate
from notify.models.requests import BulkRequest, CancelRequest, EventRequest
from notify.models.responses import (
    AutomationAccepted,
    AutomationCancelled,
    BulkAccepted,
    ErrorBody,
    EventAccepted,
    IdempotencyKeyState,
    ProfileOk,
)
from notify.models.suppressions import Suppression, SuppressionCreate

OPENAPI_PATH = "/v1/openapi.json"
WORKSPACE_PATTERN = "^[A-Za-z0-9]{10,20}$"
_REF = "#/components/schemas/{model}"
_REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    EventRequest,
    BulkRequest,
    CancelRequest,
    ProfileCreate,
    ProfileUpdate,
    ChannelPatch,
    ChannelDelete,
    ProfilesDelete,
    SuppressionCreate,
)
_RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    EventAccepted,
    BulkAccepted,
    AutomationAccepted,
    AutomationCancelled,
    RequestStatus,
    IdempotencyKeyState,
    Profile,
    ProfileOk,
    Suppression,
    ErrorBody,
)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error(description: str, *, retry_after: int | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": _json(_ref(ErrorBody))}
    if retry_after is not None:
        response["headers"] = {"Retry-After": {"$ref": f"#/components/headers/RetryAfter{retry_after}"}}
    return response


_PATH_PARAMETERS = [{"$ref": "#/components/parameters/workspace"}, {"$ref": "#/components/parameters/version"}]
_IDEMPOTENCY_PARAMETERS = [
    {"$ref": "#/components/parameters/IdempotencyKey"},
    {"$ref": "#/components/parameters/IdempotencyExpiration"},
]


def _post(summary: str, description: str, body: dict[str, Any], accepted: type[BaseModel]) -> dict[str, Any]:
    """An idempotent POST route: its body, the idempotency headers, and every answer the contract lists."""
    return {
        "summary": summary,
        "description": description,
        "parameters": _IDEMPOTENCY_PARAMETERS,
        "requestBody": body,
        "responses": {
            "202": {
                "description": "Accepted and queued; a replay (R4) answers the stored status and body.",
                "headers": {REPLAYED_HEADER: {"$ref": "#/components/headers/IdempotencyReplayed"}},
                "content": _json(_ref(accepted)),
            },
            "400": _error(
                "Malformed JSON (or nested more than 64 levels), a body that fails validation (`errors` names each "
                "field), an unknown event or "
                "automation, a blank Idempotency-Key or a bad x-idempotency-expiration. Nothing is stored (R5)."
            ),
            "401": {"$ref": "#/components/responses/InvalidApiDetails"},
            "404": {"$ref": "#/components/responses/NotFound"},
            "409": _error(
                "Another request holding the same Idempotency-Key is still executing; nothing is stored, retry "
                "after Retry-After (R5).",
                retry_after=1,
            ),
            "422": _error(
                "Strict mode (M1, set per workspace): the Idempotency-Key was used with a different body (canonical "
                "JSON: key order and whitespace do not count); nothing is executed and the stored answer is untouched."
            ),
            "429": {"description": "The API stage's throttling (API Gateway)."},
            "500": {
                "description": "Execution started and failed (e.g. the queue refused the notification); the "
                "answer is stored and replayed like a 202 (R3).",
                "headers": {REPLAYED_HEADER: {"$ref": "#/components/headers/IdempotencyReplayed"}},
                "content": _json(_ref(ErrorBody)),
            },
            "503": {"$ref": "#/components/responses/ServiceUnavailable"},
        },
    }


def _with_cancellation_key(operation: dict[str, Any]) -> dict[str, Any]:
    """The trigger takes a `Cancellation-Key` header besides the idempotency headers (C2)."""
    header = {
        "name": "Cancellation-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_CANCELLATION_KEY_CHARACTERS},
        "description": "Names the run for the cancel route (C2); past 256 characters a 400.",
    }
    return {**operation, "parameters": [*operation["parameters"], header]}


def _ok(operation: dict[str, Any]) -> dict[str, Any]:
    """An idempotent POST that answers 200 rather than 202 (the cancel)."""
    responses = dict(operation["responses"])
    accepted = responses.pop("202")
    responses = {
        "200": {**accepted, "description": "Done; a replay (R4) answers the stored status and body."},
        **responses,
    }
    return {**operation, "responses": responses}


_DISTINCT_ID = {
    "name": "distinct_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 512},
    "description": "The profile's distinct_id, percent-encoded; at most 512 bytes in UTF-8.",
}


def _profile_route(
    operation_id: str,
    summary: str,
    success: str,
    refused: str,
    body: type[BaseModel] | None = None,
    answer: type[BaseModel] = ProfileOk,
) -> dict[str, Any]:
    """A Profiles API route (docs/contract.md section 6): Fyno's answers; no Idempotency-Key (it is idempotent by
    nature, or refuses a duplicate)."""
    route: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "responses": {
            success: {"description": "Done.", "content": _json(_ref(answer))},
            "400": _error(f"{refused}; or a body that fails validation (`errors` names each field)."),
            "401": {"$ref": "#/components/responses/InvalidApiDetails"},
            "404": {"$ref": "#/components/responses/NotFound"},
            "503": {"$ref": "#/components/responses/ServiceUnavailable"},
        },
    }
    if body is not None:
        route["requestBody"] = {"required": True, "content": _json(_ref(body))}
    return route


def _profile_paths() -> dict[str, Any]:
    with_id = [*_PATH_PARAMETERS, _DISTINCT_ID]
    return {
        "/v1/{workspace}/{version}/profiles": {
            "parameters": _PATH_PARAMETERS,
            "post": _profile_route(
                "createProfile",
                "Create a profile",
                "201",
                "`Distinct ID '<id>' already exists in the '<version>' version of your workspace`",
                ProfileCreate,
            ),
        },
        "/v1/{workspace}/{version}/profiles/{distinct_id}": {
            "parameters": with_id,
            "get": _profile_route(
                "getProfile", "A profile", "200", "`incorrect/non existing distinct_id provided`", answer=Profile
            ),
            "put": _profile_route(
                "replaceProfile",
                "Replace the keys given (a new distinct_id renames the profile)",
                "200",
                "`Unable to update the record since the record does not exist`, or a rename onto an existing profile",
                ProfileUpdate,
            ),
        },
        "/v1/{workspace}/{version}/profiles/{distinct_id}/channel": {
            "parameters": with_id,
            "patch": _profile_route(
                "patchProfileChannels",
                "Replace single destinations, add push and inapp tokens (at most 50 a channel)",
                "200",
                "`incorrect/non existing distinct_id provided`, or an invalid destination",
                ChannelPatch,
            ),
        },
        "/v1/{workspace}/{version}/profiles/{distinct_id}/channel/delete": {
            "parameters": with_id,
            "post": _profile_route(
                "deleteProfileChannels",
                "Delete whole channels, or tokens",
                "200",
                "`Unable to delete channel since the channel does not exist`",
                ChannelDelete,
            ),
        },
        "/v1/{workspace}/{version}/profiles/{source}/merge/{target}": {
            "parameters": [
                *_PATH_PARAMETERS,
                {**_DISTINCT_ID, "name": "source", "description": "The profile merged, then deleted."},
                {**_DISTINCT_ID, "name": "target", "description": "The profile merged into (created if unknown)."},
            ],
            "patch": _profile_route(
                "mergeProfiles", "Merge a profile into another", "200", "`merge from id does not exist`"
            ),
        },
        "/v1/{workspace}/{version}/profiles/delete": {
            "parameters": _PATH_PARAMETERS,
            "post": _profile_route(
                "deleteProfiles", "Delete profiles", "200", "`Cannot delete non existing user`", ProfilesDelete
            ),
        },
    }


def _suppression_paths() -> dict[str, Any]:
    query = [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string", "maxLength": 2048}}
        for name in ("_id", "distinct_id", "destination", "channel")
    ]
    return {
        "/v1/{workspace}/suppressions": {
            "parameters": [{"$ref": "#/components/parameters/workspace"}],
            "get": _profile_route(
                "listSuppressions",
                "The workspace's suppression list (entries in force)",
                "200",
                "never",
                answer=Suppression,
            )
            | {
                "responses": {
                    "200": {
                        "description": "Every entry in force, oldest first.",
                        "content": _json({"type": "array", "items": _ref(Suppression)}),
                    },
                    "401": {"$ref": "#/components/responses/InvalidApiDetails"},
                    "503": {"$ref": "#/components/responses/ServiceUnavailable"},
                }
            },
            "post": _profile_route(
                "addSuppression",
                "Suppress a destination or a distinct_id on one channel: nothing is sent to it (skipped, reason "
                "`suppressed`)",
                "200",
                "`Invalid destination for channel <c>`",
                SuppressionCreate,
            ),
            "delete": _profile_route(
                "removeSuppressions",
                "Remove every entry matching `_id`, `distinct_id` or `destination` (narrowed by `channel`)",
                "200",
                "`No suppression matches`, or no query parameter",
            )
            | {"parameters": query},
        },
    }


def _paths() -> dict[str, Any]:
    return {
        **_profile_paths(),
        **_suppression_paths(),
        "/v1/{workspace}/{version}/event": {
            "parameters": _PATH_PARAMETERS,
            "post": {
                "operationId": "postEvent",
                **_post(
                    "Event API: one event to one recipient",
                    "Answers as Fyno's Event API does. Idempotent on `live` with an Idempotency-Key (R1-R9).",
                    {"required": True, "content": _json(_ref(EventRequest))},
                    EventAccepted,
                ),
            },
        },
        "/v1/{workspace}/{version}/event/bulk": {
            "parameters": _PATH_PARAMETERS,
            "post": {
                "operationId": "postEventBulk",
                **_post(
                    "Event Bulk API: one event to 1..1000 recipients",
                    "The whole body is validated first: one invalid item and nothing is stored or sent.",
                    {"required": True, "content": _json(_ref(BulkRequest))},
                    BulkAccepted,
                ),
            },
        },
        "/v1/{workspace}/{version}/automation/{automation_id}/trigger": {
            "parameters": [
                *_PATH_PARAMETERS,
                {"name": "automation_id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}},
            ],
            "post": {
                "operationId": "triggerAutomation",
                **_with_cancellation_key(
                    _post(
                        "Automations API: start a run of a configured automation",
                        "Any JSON payload; every step must resolve against it before anything runs. "
                        "A missing body is the empty object.",
                        {"required": False, "content": _json({"description": "Any JSON value the steps read"})},
                        AutomationAccepted,
                    )
                ),
            },
        },
        "/v1/{workspace}/{version}/automation/{automation_id}/cancel": {
            "parameters": [
                *_PATH_PARAMETERS,
                {"name": "automation_id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}},
            ],
            "post": {
                "operationId": "cancelAutomation",
                **_ok(
                    _post(
                        "Cancel the steps not yet sent of the runs triggered with a Cancellation-Key (C1-C6)",
                        "Idempotent like the other POSTs (its own key scope, `cancel`): the answer is stored and "
                        "replayed. Each step is either cancelled or sent, never both. An unknown key cancels nothing "
                        "(200 with empty lists).",
                        {"required": True, "content": _json(_ref(CancelRequest))},
                        AutomationCancelled,
                    )
                ),
            },
        },
        "/v1/{workspace}/{version}/request/{request_id}": {
            "parameters": [
                *_PATH_PARAMETERS,
                {"name": "request_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}},
            ],
            "get": {
                "operationId": "getRequestStatus",
                "summary": "Status of a request: each notification and its delivery state",
                "responses": {
                    "200": {"description": "The request's notifications.", "content": _json(_ref(RequestStatus))},
                    "401": {"$ref": "#/components/responses/InvalidApiDetails"},
                    "404": _error("No such request in this workspace and version, an unknown version or route."),
                    "503": {"$ref": "#/components/responses/ServiceUnavailable"},
                },
            },
        },
        "/v1/{workspace}/{version}/idempotency/{api}/{key}": {
            "parameters": [
                *_PATH_PARAMETERS,
                {
                    "name": "api",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": list(LOOKUP_APIS)},
                    "description": "The API the key was sent to (R2); any other name is a 404.",
                },
                {
                    "name": "key",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1},
                    "description": "The Idempotency-Key, percent-encoded; read as the header is (R1).",
                },
            ],
            "get": {
                "operationId": "getIdempotencyKey",
                "summary": "What an Idempotency-Key holds now (K1-K4)",
                "description": "Reads the key's record without claiming, executing or extending anything: one read.",
                "responses": {
                    "200": {
                        "description": "In progress, or completed with the stored status and body.",
                        "content": _json(_ref(IdempotencyKeyState)),
                    },
                    "400": _error("A blank key."),
                    "401": {"$ref": "#/components/responses/InvalidApiDetails"},
                    "404": _error(
                        "The key holds nothing now in this workspace, API and version (never stored, released, "
                        "expired, another workspace's, or `test`), or an unknown API, version or route."
                    ),
                    "503": {"$ref": "#/components/responses/ServiceUnavailable"},
                },
            },
        },
        OPENAPI_PATH: {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {"description": "The OpenAPI document.", "content": _json({"type": "object"})},
                },
            },
        },
    }


def _without_null_defaults(schema: Any) -> Any:
    """Drop `default: null` where null is not allowed: a response field that is absent when unset."""
    if isinstance(schema, list):
        return [_without_null_defaults(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    allows_null = schema.get("type") == "null" or any(
        option.get("type") == "null" for option in schema.get("anyOf", [])
    )
    return {
        name: _without_null_defaults(value)
        for name, value in schema.items()
        if not (name == "default" and value is None and not allows_null)
    }


def _components() -> dict[str, Any]:
    _, definitions = models_json_schema(
        [(model, "validation") for model in _REQUEST_MODELS] + [(model, "serialization") for model in _RESPONSE_MODELS],
        ref_template=_REF,
    )
    return {
        "schemas": _without_null_defaults(dict(sorted(definitions["$defs"].items()))),
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key of the workspace in the path (`Authorization: Bearer <api key>`).",
            },
        },
        "parameters": {
            "workspace": {
                "name": "workspace",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": WORKSPACE_PATTERN},
                "description": "The workspace id; the API key must belong to it.",
            },
            "version": {
                "name": "version",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "enum": list(VERSIONS)},
                "description": "`live` is idempotent (R7); on `test` the key is ignored and nothing leaves the system.",
            },
            "IdempotencyKey": {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1},
                "description": 'Any non-empty string after trimming (a blank one is a 400); `"abc"` is the same '
                "key as `abc`. Scoped to the workspace and API (R1, R2).",
            },
            "IdempotencyExpiration": {
                "name": EXPIRATION_HEADER,
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "When the stored response expires: epoch milliseconds or ISO-8601, between 24 hours "
                "and one year ahead, otherwise a 400 (R6). Default 24 hours.",
            },
        },
        "headers": {
            "IdempotencyReplayed": {
                "description": "`true` when this is the stored response of an earlier request with the key (R4).",
                "schema": {"type": "string", "enum": ["true"]},
            },
            "RetryAfter1": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}},
            "RetryAfter2": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}},
        },
        "responses": {
            "InvalidApiDetails": {
                "description": "Missing, malformed, unknown or revoked API key, or a key of another workspace.",
                "content": _json(_ref(ErrorBody)),
            },
            "NotFound": {
                "description": "A version other than live or test, or an unknown route.",
                "content": _json(_ref(ErrorBody)),
            },
            "ServiceUnavailable": _error(
                "A store needed before execution is unreachable; nothing was sent or stored (R9).", retry_after=2
            ),
        },
    }


def build_openapi() -> dict[str, Any]:
    """The OpenAPI document of every route in template.yaml."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Idempotent notification API",
            "version": "1.0.0",
            "description": "Event, Event Bulk and Automations APIs with idempotent requests, the request "
            'status route, the Profiles API and the suppression list. Errors are `{"_message", "status": "error"}`.',
        },
        "security": [{"bearerAuth": []}],
        "paths": _paths(),
        "components": _components(),
    }


@cache
def render_openapi() -> str:
    """The document as served and committed in `openapi.json`: indented, ending with a newline; once per container."""
    return json.dumps(build_openapi(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render_openapi(), end="")
