"""Unit fixtures: moto in-process, resources created from template.yaml, handlers invoked directly."""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, wraps
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from moto import mock_aws
from moto.backends import get_backend
from moto.dynamodb.models import DynamoDBBackend

from local.container import import_function, reset_container_state
from local.moto_backend import speed_up_sqs_clock
from local.seed import DemoWorkspace, seed_demo_data
from local.template import LocalResources, create_resources, function_environment, load_template
from notify.logic.providers.webhooks import HttpClient
from notify.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


@cache
def load_function(name: str) -> ModuleType:
    """The handler module of one warm container, shared by the tests."""
    return import_function(name)


class FakeLambdaContext:
    function_name = "EventApiFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:EventApiFunction"
    aws_request_id = "req-0001"

    def __init__(self, remaining_ms: int = 10_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@cache
def function_timeout_ms(logical_id: str) -> int:
    """The function's Timeout in the template (Globals applied): what its invocations start with."""
    template = load_template()
    properties = {**template["Globals"]["Function"], **template["Resources"][logical_id]["Properties"]}
    return int(properties["Timeout"]) * 1000


class CountdownLambdaContext(FakeLambdaContext):
    """A context whose remaining time runs down with the clock, as Lambda's does (frozen with freezegun)."""

    def __init__(self, remaining_ms: int = 10_000) -> None:
        super().__init__(remaining_ms)
        self.started = time.monotonic()

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.remaining_ms - (time.monotonic() - self.started) * 1000))


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
    speed_up_sqs_clock()
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

    def __init__(self, workspace: DemoWorkspace, function: str, sample: str, route: str, logical_id: str) -> None:
        self.workspace = workspace
        self.module = load_function(function)
        self.timeout_ms = function_timeout_ms(logical_id)
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
        binary_body: bytes | None = None,
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
        if binary_body is not None:
            # As API Gateway passes a body that is not UTF-8 text.
            event["body"], event["isBase64Encoded"] = base64.b64encode(binary_body).decode(), True
        response = self.module.lambda_handler(event, context or FakeLambdaContext(self.timeout_ms))
        return HttpResult(
            status=response["statusCode"],
            headers={name.lower(): value for name, value in response.get("headers", {}).items()},
            body=response.get("body", ""),
        )


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


# Senders and the status route ------------------------------------------------------------------

ACCOUNT = "123456789012"


class SenderDriver:
    """Plays Lambda's SQS event source for the Sender function: receive a batch, invoke, delete what
    succeeded, report what failed. The visibility timeout of a failed message passes at once (no sleeps)."""

    def __init__(self, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
        self.stack = stack
        self.monkeypatch = monkeypatch
        self.module = load_function("sender")
        self.module.providers.cache_clear()
        self.sqs = stack.session.client("sqs", region_name=REGION)
        self.in_flight: list[str] = []
        self.invocations = 0
        # What each invocation starts with of the function's 30 s timeout (running down as it works).
        self.remaining_ms = 30_000

    def use_http(self, http: HttpClient) -> None:
        """Chat webhooks and the Slack API go through `http` (an injected opener: no network)."""
        from notify.logic.providers import Providers

        self.monkeypatch.setattr(self.module, "providers", lambda: Providers(http=http))

    def run_once(self) -> int:
        """One invocation with up to 10 messages; returns how many were received."""
        received = self.sqs.receive_message(
            QueueUrl=self.stack.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        if not received:
            return 0
        self.in_flight = [m["ReceiptHandle"] for m in received]
        envelope = sample_event("sender/sqs_batch.json")["Records"][0]
        event = {
            "Records": [
                {
                    **envelope,
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "md5OfBody": m["MD5OfBody"],
                    "attributes": m["Attributes"],
                    "eventSourceARN": self.stack.resources.queues["NotificationQueue"]["arn"],
                }
                for m in received
            ]
        }
        self.invocations += 1
        context = CountdownLambdaContext(remaining_ms=self.remaining_ms)
        context.function_name = "SenderFunction"
        try:
            response = self.module.lambda_handler(event, context)
            failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        except BatchProcessingError:
            # Powertools fails the invocation when every record failed; SQS then returns them all.
            failed = {m["MessageId"] for m in received}
        for m in received:
            if m["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=self.stack.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=self.stack.queue_url, ReceiptHandle=m["ReceiptHandle"])
        self.in_flight = []
        return len(received)

    def expire_in_flight(self) -> None:
        """The visibility timeout of an invocation that died passes: its messages come back."""
        for handle in self.in_flight:
            self.sqs.change_message_visibility(QueueUrl=self.stack.queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
        self.in_flight = []

    def drain(self, max_invocations: int = 50) -> int:
        """Invoke until the queue is empty (failed messages come back until they reach the DLQ)."""
        for invocations in range(max_invocations):
            if self.run_once() == 0:
                return invocations
        raise AssertionError("the queue did not drain")

    def requeue(self, body: dict[str, Any]) -> None:
        """Put a message on the queue again, as SQS does when it delivers one twice."""
        self.sqs.send_message(QueueUrl=self.stack.queue_url, MessageBody=json.dumps(body))

    def queue_depth(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.stack.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def dead_letters(self) -> list[dict[str, Any]]:
        url = self.stack.resources.queues["NotificationDLQ"]["url"]
        messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]


def sent_emails() -> list[Any]:
    """What moto's SES accepted (SES v2 shares the v1 backend)."""
    return list(get_backend("ses")[ACCOUNT][REGION].sent_messages)


def sent_sms() -> list[tuple[str, str]]:
    """(phone number, text) of every SMS moto's SNS accepted."""
    return list(get_backend("sns")[ACCOUNT][REGION].sms_messages.values())


@pytest.fixture
def sender(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> SenderDriver:
    """The Sender function's environment (on top of the Event function's) and a verified SES sender."""
    environment = function_environment("SenderFunction", stack.resources)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    stack.session.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=environment["EMAIL_FROM"])
    return SenderDriver(stack, monkeypatch)


class StatusApiClient:
    """Calls the Status function with GET events built from events/status_api/get_request.json."""

    def __init__(self, workspace: DemoWorkspace) -> None:
        self.workspace = workspace
        self.module = load_function("status_api")

    def get(
        self, request_id: str, *, version: str = "live", workspace: str | None = None, api_key: str | None = "default"
    ) -> HttpResult:
        event = copy.deepcopy(sample_event("status_api/get_request.json"))
        workspace = workspace or self.workspace.workspace
        path = f"/v1/{workspace}/{version}/request/{request_id}"
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["pathParameters"] = {"workspace": workspace, "version": version, "request_id": request_id}
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


@pytest.fixture
def status(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> StatusApiClient:
    for name, value in function_environment("StatusApiFunction", stack.resources).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return StatusApiClient(stack.workspaces[0])
