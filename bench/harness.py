"""The API functions in this process against moto, as the unit tests run them (tests/support/stack.py).

Resources come from template.yaml and the demo data from local.seed, so the bench measures the
product as deployed, minus the network.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

import boto3
from moto import mock_aws

from local.container import import_function, reset_container_state
from local.moto_backend import speed_up_dynamodb_transactions, speed_up_sqs_clock
from local.seed import DemoWorkspace, seed_demo_data
from local.template import ROOT, create_resources, function_environment
from notify.observability import logger

REGION = "us-east-1"
API_FUNCTIONS = ("EventApiFunction", "BulkApiFunction", "AutomationApiFunction")


@cache
def load_function(name: str) -> ModuleType:
    """The handler module of the bench's one warm container."""
    return import_function(name, instance="_bench")


class FakeLambdaContext:
    function_name = "EventApiFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:EventApiFunction"
    aws_request_id = "bench-0001"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@dataclass(frozen=True)
class Api:
    """One API function and the route under /v1/{workspace}/{version}/ it serves."""

    function: str
    sample: str
    route: str


EVENT_API = Api("event_api", "event_api/post_event.json", "event")
BULK_API = Api("bulk_api", "bulk_api/post_bulk.json", "event/bulk")
AUTOMATION_API = Api("automation_api", "automation_api/trigger.json", "automation/onboarding/trigger")
CANCEL_API = Api("automation_api", "automation_api/trigger.json", "automation/onboarding/cancel")


@cache
def _sample_event(name: str) -> dict[str, Any]:
    return dict(json.loads((ROOT / "events" / name).read_text()))


def api_gateway_event(
    api: Api, workspace: DemoWorkspace, body: Any, *, key: str | None, version: str = "live"
) -> dict[str, Any]:
    """A payload format 2.0 event built from the API's sample in events/, as API Gateway would send it."""
    event = copy.deepcopy(_sample_event(api.sample))
    path = f"/v1/{workspace.workspace}/{version}/{api.route}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {**event.get("pathParameters", {}), "workspace": workspace.workspace, "version": version}
    headers = {"content-type": "application/json", "authorization": f"Bearer {workspace.api_key}"}
    if key is not None:
        headers["idempotency-key"] = key
    event["headers"] = headers
    event["body"] = json.dumps(body)
    return event


def invoke(api: Api, event: dict[str, Any]) -> dict[str, Any]:
    """Call the function's handler as the Lambda runtime would; returns its API Gateway response."""
    response: dict[str, Any] = load_function(api.function).lambda_handler(event, FakeLambdaContext())
    return response


@dataclass(frozen=True)
class InProcessStack:
    workspace: DemoWorkspace
    resources: Any = None  # local.template's resources (names of tables and queues)


@contextlib.contextmanager
def in_process_stack() -> Iterator[InProcessStack]:
    """moto with the template's resources, the API functions' environment, and the demo workspaces.

    Function logs and metrics go to /dev/null: they are still formatted, as in Lambda, but thousands of
    JSON lines on the terminal would both bury the table and time the terminal instead of the product.
    """
    saved_environment = dict(os.environ)
    # As tests/conftest.py: fake credentials, and nothing of a developer's AWS setup reaches the functions.
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "POWERTOOLS_IDEMPOTENCY_DISABLED"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }
    )
    handler = logger.registered_handler
    # moto's own SQS clock would make the 1000-recipient case measure moto, not the product.
    speed_up_sqs_clock()
    speed_up_dynamodb_transactions()
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), mock_aws():
        previous_stream = handler.setStream(devnull) if isinstance(handler, logging.StreamHandler) else None
        try:
            session = boto3.session.Session(region_name=REGION)
            resources = create_resources(session, REGION)
            os.environ.update(function_environment(API_FUNCTIONS[0], resources))
            reset_container_state()
            workspaces = seed_demo_data(resources.tables["ApiKeysTable"], resources.tables["DefinitionsTable"])
            yield InProcessStack(workspace=workspaces[0], resources=resources)
        finally:
            if isinstance(handler, logging.StreamHandler) and previous_stream is not None:
                handler.setStream(previous_stream)
            reset_container_state()
            os.environ.clear()
            os.environ.update(saved_environment)
