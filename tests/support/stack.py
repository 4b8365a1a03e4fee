"""The in-process stack: moto with the resources of template.yaml, the demo workspaces, and each function's
handler imported as one warm container would (the unit and fault suites' world)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.backends import get_backend

from local.container import import_function, reset_container_state
from local.moto_backend import LOCAL_STACK_NAME, register_stack, speed_up_dynamodb_transactions, speed_up_sqs_clock
from local.seed import DemoWorkspace, seed_demo_data
from local.stack import resolved_outputs
from local.template import LocalResources, create_resources, function_environment, load_template

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

    def register_as_deployed(self) -> str:
        """A CloudFormation stack in moto with the template's Outputs, as `sam deploy` leaves them (and the local
        stack registers them); its name, for the admin command's --stack-name."""
        register_stack(self.session, resolved_outputs(self.resources, api_url="http://127.0.0.1:3000"))
        return LOCAL_STACK_NAME

    def idempotency_items(self) -> list[dict[str, Any]]:
        ddb = self.session.client("dynamodb", region_name=REGION)
        return ddb.scan(TableName=self.resources.tables["IdempotencyTable"])["Items"]

    def send_guards(self) -> list[dict[str, Any]]:
        """The senders' msg_id guards: the notifications' items in the delivery log (each with its `guard`)."""
        ddb = self.session.client("dynamodb", region_name=REGION)
        items = ddb.scan(TableName=self.resources.tables["DeliveryLogTable"], ConsistentRead=True)["Items"]
        return [item for item in items if "guard" in item]


@contextmanager
def in_process_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """moto with the template's tables and queues, the demo workspaces, and the Event function's environment."""
    speed_up_sqs_clock()
    speed_up_dynamodb_transactions()
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


ACCOUNT = "123456789012"


def sent_emails() -> list[Any]:
    """What moto's SES accepted (SES v2 shares the v1 backend)."""
    return list(get_backend("ses")[ACCOUNT][REGION].sent_messages)


def sent_sms() -> list[tuple[str, str]]:
    """(phone number, text) of every SMS moto's SNS accepted."""
    return list(get_backend("sns")[ACCOUNT][REGION].sms_messages.values())
