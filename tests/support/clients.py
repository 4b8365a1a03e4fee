"""Clients that call the API functions in process, with the API Gateway HTTP API events (payload 2.0) the
samples in events/ hold: what a user's HTTP request becomes on Lambda."""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from local.seed import DemoWorkspace
from tests.support.stack import FakeLambdaContext, function_timeout_ms, load_function, sample_event


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


class ApiClient:
    """Calls one API function with API Gateway HTTP API (payload 2.0) events built from its sample in events/."""

    def __init__(self, workspace: DemoWorkspace, function: str, sample: str, route: str, logical_id: str) -> None:
        self.workspace = workspace
        self.module = load_function(function)
        self.timeout_ms = function_timeout_ms(logical_id)
        self.sample = sample
        self.route = route  # what follows /v1/{workspace}/{version}/

    def post(self, body: Any = None, *, context: FakeLambdaContext | None = None, **request: Any) -> HttpResult:
        """Send the event `event(body, **request)` builds to the function."""
        event = self.event(body, **request)
        response = self.module.lambda_handler(event, context or FakeLambdaContext(self.timeout_ms))
        return HttpResult(
            status=response["statusCode"],
            headers={name.lower(): value for name, value in response.get("headers", {}).items()},
            body=response.get("body", ""),
        )

    def event(
        self,
        body: Any = None,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        version: str = "live",
        workspace: str | None = None,
        api_key: str | None = "default",
        raw_body: str | None = None,
        binary_body: bytes | None = None,
        route: str | None = None,
    ) -> dict[str, Any]:
        """The API Gateway event `post` sends."""
        event = copy.deepcopy(sample_event(self.sample))
        workspace = workspace or self.workspace.workspace
        path = f"/v1/{workspace}/{version}/{route or self.route}"
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["pathParameters"] = {**event.get("pathParameters", {}), "workspace": workspace, "version": version}
        sent_headers = {"content-type": "application/json"}
        if api_key == "default":
            api_key = self.workspace.api_key
        if api_key is not None:
            sent_headers["authorization"] = f"Bearer {api_key}"
        if key is not None:
            sent_headers["idempotency-key"] = key
        # API Gateway lowercases header names in payload format 2.0.
        sent_headers.update({name.lower(): value for name, value in (headers or {}).items()})
        event["headers"] = sent_headers
        event["body"] = raw_body if raw_body is not None else json.dumps(body)
        if binary_body is not None:
            # As API Gateway passes a body that is not UTF-8 text.
            event["body"], event["isBase64Encoded"] = base64.b64encode(binary_body).decode(), True
        return event


class EventApiClient(ApiClient):
    def __init__(self, workspace: DemoWorkspace) -> None:
        super().__init__(workspace, "event_api", "event_api/post_event.json", "event", "EventApiFunction")


class BulkApiClient(ApiClient):
    def __init__(self, workspace: DemoWorkspace) -> None:
        super().__init__(workspace, "bulk_api", "bulk_api/post_bulk.json", "event/bulk", "BulkApiFunction")


class AutomationApiClient(ApiClient):
    def __init__(self, workspace: DemoWorkspace, automation_id: str = "onboarding") -> None:
        super().__init__(
            workspace,
            "automation_api",
            "automation_api/trigger.json",
            f"automation/{automation_id}/trigger",
            "AutomationApiFunction",
        )


def receipts_in(answer: Any) -> list[dict[str, Any]]:
    """Every per-notification receipt (`{"destination", "msg_id", "status"}`) in an accepted answer, any API."""
    if isinstance(answer, dict):
        own = [answer] if "msg_id" in answer else []
        return own + [receipt for value in answer.values() for receipt in receipts_in(value)]
    if isinstance(answer, list):
        return [receipt for value in answer for receipt in receipts_in(value)]
    return []


def welcome(email: str = "rahul@example.com", name: str = "Rahul") -> dict[str, Any]:
    return {"event": "Welcome_Email", "to": {"email": email}, "data": {"name": name}}


class StatusApiClient:
    """Calls the Status function with GET events built from events/status_api/get_request.json."""

    def __init__(self, workspace: DemoWorkspace) -> None:
        self.workspace = workspace
        self.module = load_function("status_api")

    def get(
        self, request_id: str, *, version: str = "live", workspace: str | None = None, api_key: str | None = "default"
    ) -> HttpResult:
        return self._get(f"request/{request_id}", version=version, workspace=workspace, api_key=api_key)

    def lookup(
        self,
        api: str,
        key: str,
        *,
        version: str = "live",
        workspace: str | None = None,
        api_key: str | None = "default",
    ) -> HttpResult:
        """GET /v1/{workspace}/{version}/idempotency/{api}/{key}, the key percent-encoded as a client sends it."""
        return self._get(
            f"idempotency/{api}/{quote(key, safe='')}", version=version, workspace=workspace, api_key=api_key
        )

    def _get(self, route: str, *, version: str, workspace: str | None, api_key: str | None) -> HttpResult:
        event = copy.deepcopy(sample_event("status_api/get_request.json"))
        workspace = workspace or self.workspace.workspace
        path = f"/v1/{workspace}/{version}/{route}"
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["pathParameters"] = {"workspace": workspace, "version": version}
        headers = {name: value for name, value in event["headers"].items() if name != "authorization"}
        if api_key == "default":
            api_key = self.workspace.api_key
        if api_key is not None:
            headers["authorization"] = f"Bearer {api_key}"
        event["headers"] = headers
        response = self.module.lambda_handler(event, FakeLambdaContext())
        return HttpResult(
            status=response["statusCode"],
            headers={name.lower(): value for name, value in response.get("headers", {}).items()},
            body=response.get("body", ""),
        )


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


class ProfilesApi:
    """Calls the Profiles function with API Gateway HTTP API (payload 2.0) events built from its sample."""

    def __init__(self, workspace: str, api_key: str, module: Any) -> None:
        self.workspace, self.api_key, self.module = workspace, api_key, module

    def call(
        self,
        method: str,
        route: str,
        body: Any = None,
        *,
        version: str = "live",
        workspace: str | None = None,
        api_key: str | None = "default",
        raw_body: str | None = None,
    ) -> Answer:
        event = copy.deepcopy(sample_event("profiles_api/patch_channel.json"))
        path = f"/v1/{workspace or self.workspace}/{version}/{route}"
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["requestContext"]["http"]["method"] = method
        headers = {"content-type": "application/json"}
        key = self.api_key if api_key == "default" else api_key
        if key is not None:
            headers["authorization"] = f"Bearer {key}"
        event["headers"] = headers
        event["body"] = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
        response = self.module.lambda_handler(event, FakeLambdaContext(function_timeout_ms("ProfilesApiFunction")))
        return Answer(
            status=response["statusCode"],
            headers={name.lower(): value for name, value in response.get("headers", {}).items()},
            body=json.loads(response["body"]) if response.get("body") else {},
        )

    def create(self, body: dict[str, Any], **kwargs: Any) -> Answer:
        return self.call("POST", "profiles", body, **kwargs)

    def get(self, distinct_id: str, **kwargs: Any) -> Answer:
        return self.call("GET", f"profiles/{quote(distinct_id, safe='')}", **kwargs)

    def put(self, distinct_id: str, body: dict[str, Any], **kwargs: Any) -> Answer:
        return self.call("PUT", f"profiles/{quote(distinct_id, safe='')}", body, **kwargs)

    def patch_channel(self, distinct_id: str, channel: dict[str, Any], **kwargs: Any) -> Answer:
        return self.call("PATCH", f"profiles/{quote(distinct_id, safe='')}/channel", {"channel": channel}, **kwargs)

    def delete_channel(self, distinct_id: str, body: dict[str, Any], **kwargs: Any) -> Answer:
        return self.call("POST", f"profiles/{quote(distinct_id, safe='')}/channel/delete", body, **kwargs)

    def merge(self, source: str, target: str, **kwargs: Any) -> Answer:
        return self.call("PATCH", f"profiles/{quote(source, safe='')}/merge/{quote(target, safe='')}", **kwargs)

    def delete(self, distinct_ids: list[str], **kwargs: Any) -> Answer:
        return self.call("POST", "profiles/delete", {"distinct_id": distinct_ids}, **kwargs)
