"""Unit fixtures: moto in-process, resources created from template.yaml, handlers invoked directly."""

from __future__ import annotations

import copy
import importlib.util
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, wraps
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.backends import get_backend
from moto.dynamodb.models import DynamoDBBackend

from local.seed import DemoWorkspace, seed_demo_data
from local.template import LocalResources, create_resources, function_environment
from notify.dal.clients import reset_clients
from notify.dal.idempotency_store import idempotency_store
from notify.logic import idempotency
from notify.logic.auth import forget_cached_keys
from notify.logic.definitions import forget_cached_definitions
from notify.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


def reset_container_state() -> None:
    """What a new Lambda container starts without: settings, clients, and every per-container cache."""
    get_settings.cache_clear()
    reset_clients()
    idempotency_store.cache_clear()
    idempotency._config.cache_clear()
    forget_cached_keys()
    forget_cached_definitions()


@cache
def load_function(name: str) -> ModuleType:
    """Import functions/<name>/app.py the way Lambda does, under a name that cannot collide."""
    spec = importlib.util.spec_from_file_location(f"{name}_app", ROOT / "functions" / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeLambdaContext:
    function_name = "EventApiFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:EventApiFunction"
    aws_request_id = "req-0001"

    def __init__(self, remaining_ms: int = 10_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def sample_event(name: str) -> dict[str, Any]:
    """A sample from events/, the same file `sam local invoke -e` takes."""
    return json.loads((ROOT / "events" / name).read_text())


@dataclass
class Stack:
    resources: LocalResources
    workspaces: list[DemoWorkspace]
    session: boto3.session.Session

    @property
    def queue_url(self) -> str:
        return self.resources.queues["NotificationQueue"]["url"]

    def queue_contents(self, queue: str = "NotificationQueue") -> list[Any]:
        """moto's messages of a queue, visible, delayed or in flight, without receiving them."""
        backend = get_backend("sqs")[self.resources.account][REGION]
        return list(backend.queues[self.resources.queues[queue]["name"]]._messages)

    def queued_delays(self, queue: str = "NotificationQueue") -> dict[str, int]:
        """msg_id -> the SQS DelaySeconds it was sent with."""
        return {
            json.loads(message.body)["msg_id"]: round((message.delayed_until - message.sent_timestamp) / 1000)
            if message.delayed_until
            else 0
            for message in self.queue_contents(queue)
        }

    def queued_messages(self, queue: str = "NotificationQueue") -> list[dict[str, Any]]:
        """The notification messages on the queue, as the senders will read them."""
        return [json.loads(message.body) for message in self.queue_contents(queue)]

    def idempotency_items(self) -> list[dict[str, Any]]:
        ddb = self.session.client("dynamodb", region_name=REGION)
        return ddb.scan(TableName=self.resources.tables["IdempotencyTable"])["Items"]


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """moto with the template's tables and queues, the demo workspaces, and the Event function's environment."""
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        resources = create_resources(session, REGION)
        # The API functions get the same variables from the template; check that, then use them.
        environments = [
            function_environment(f, resources) for f in ("EventApiFunction", "BulkApiFunction", "AutomationApiFunction")
        ]
        assert all(environment == environments[0] for environment in environments)
        for name, value in environments[0].items():
            monkeypatch.setenv(name, value)
        reset_container_state()
        workspaces = seed_demo_data(resources.tables["ApiKeysTable"], resources.tables["DefinitionsTable"])
        yield Stack(resources=resources, workspaces=workspaces, session=session)
    reset_container_state()


@pytest.fixture
def atomic_dynamodb() -> Iterator[None]:
    """Serialise moto's DynamoDB writes, so a conditional write is atomic as it is in DynamoDB."""
    lock = threading.RLock()
    originals = {name: getattr(DynamoDBBackend, name) for name in ("put_item", "update_item", "delete_item")}

    def serialised(method: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(method)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(*args, **kwargs)

        return locked

    for name, method in originals.items():
        setattr(DynamoDBBackend, name, serialised(method))
    try:
        yield
    finally:
        for name, method in originals.items():
            setattr(DynamoDBBackend, name, method)


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


class ApiClient:
    """Calls one API function with API Gateway HTTP API (payload 2.0) events built from its sample in events/."""

    def __init__(self, workspace: DemoWorkspace, function: str, sample: str, route: str) -> None:
        self.workspace = workspace
        self.module = load_function(function)
        self.sample = sample
        self.route = route  # what follows /v1/{workspace}/{version}/

    def post(
        self,
        body: Any = None,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        version: str = "live",
        workspace: str | None = None,
        api_key: str | None = "default",
        raw_body: str | None = None,
        route: str | None = None,
        context: FakeLambdaContext | None = None,
    ) -> HttpResult:
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
        response = self.module.lambda_handler(event, context or FakeLambdaContext())
        return HttpResult(
            status=response["statusCode"],
            headers={name.lower(): value for name, value in response.get("headers", {}).items()},
            body=response.get("body", ""),
        )


class EventApiClient(ApiClient):
    def __init__(self, workspace: DemoWorkspace) -> None:
        super().__init__(workspace, "event_api", "event_api/post_event.json", "event")


class BulkApiClient(ApiClient):
    def __init__(self, workspace: DemoWorkspace) -> None:
        super().__init__(workspace, "bulk_api", "bulk_api/post_bulk.json", "event/bulk")


class AutomationApiClient(ApiClient):
    def __init__(self, workspace: DemoWorkspace, automation_id: str = "onboarding") -> None:
        super().__init__(
            workspace, "automation_api", "automation_api/trigger.json", f"automation/{automation_id}/trigger"
        )


def welcome(email: str = "rahul@example.com", name: str = "Rahul") -> dict[str, Any]:
    return {"event": "Welcome_Email", "to": {"email": email}, "data": {"name": name}}


@pytest.fixture
def client(stack: Stack) -> EventApiClient:
    return EventApiClient(stack.workspaces[0])


@pytest.fixture
def other_client(stack: Stack) -> EventApiClient:
    return EventApiClient(stack.workspaces[1])


@pytest.fixture
def bulk_client(stack: Stack) -> BulkApiClient:
    return BulkApiClient(stack.workspaces[0])


@pytest.fixture
def automation_client(stack: Stack) -> AutomationApiClient:
    return AutomationApiClient(stack.workspaces[0])
