"""The fixtures every suite can ask for, loaded as a pytest plugin by tests/conftest.py.

The in-process stack (tests/support/stack.py) and its clients serve the unit and fault suites; suites that
run `python -m local` build on tests/support/local_stack.py in their own conftest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import freezegun
import pytest

from local.container import import_function
from local.moto_backend import dynamodb_writes_serialised
from local.template import function_environment
from notify.settings import get_settings
from tests.support.clients import (
    ApiClient,
    AutomationApiClient,
    BulkApiClient,
    EventApiClient,
    ProfilesApi,
    StatusApiClient,
)
from tests.support.reports import Receiver, ReporterDriver
from tests.support.sender import SenderDriver
from tests.support.stack import REGION, Stack, in_process_stack

# Powertools' parser package builds pydantic models on first attribute access; freezegun's module scan would
# build them around its fake datetime class. Nothing there reads the clock. One setting for every suite.
freezegun.configure(extend_ignore_list=["aws_lambda_powertools.utilities.parser"])


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """moto with the template's tables and queues, the demo workspaces, and the API functions' environment."""
    with in_process_stack(monkeypatch) as created:
        yield created


@pytest.fixture
def atomic_dynamodb() -> Iterator[None]:
    """Serialise moto's DynamoDB writes, so a conditional write is atomic as it is in DynamoDB."""
    with dynamodb_writes_serialised():
        yield


@pytest.fixture
def deployed(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> str:
    """The stack as `sam deploy` leaves it, for the admin command: a CloudFormation stack whose Outputs name
    its resources. Its name."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return stack.register_as_deployed()


def _api_client(name: str, client: Callable[[Any], ApiClient], workspace: int = 0) -> Any:
    """A fixture named `name`: `client` of the stack's demo workspace number `workspace`."""

    def fixture(stack: Stack) -> ApiClient:
        return client(stack.workspaces[workspace])

    return pytest.fixture(name=name)(fixture)


client = _api_client("client", EventApiClient)
other_client = _api_client("other_client", EventApiClient, workspace=1)
bulk_client = _api_client("bulk_client", BulkApiClient)
automation_client = _api_client("automation_client", AutomationApiClient)


@pytest.fixture
def sender(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> SenderDriver:
    """The Sender function's environment (on top of the Event function's) and a verified SES sender."""
    environment = function_environment("SenderFunction", stack.resources)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    stack.session.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=environment["EMAIL_FROM"])
    return SenderDriver(stack, monkeypatch)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A report receiver on 127.0.0.1 that takes every report (tests/support/reports.py)."""
    served = Receiver()
    yield served
    served.close()


@pytest.fixture
def reporter(stack: Stack, sender: SenderDriver, monkeypatch: pytest.MonkeyPatch) -> ReporterDriver:
    """The Reporter function driven as its queue's event source drives it; its WEBHOOK_TIMEOUT_SECONDS is 0.5."""
    return ReporterDriver(stack, monkeypatch)


@pytest.fixture
def status(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> StatusApiClient:
    for name, value in function_environment("StatusApiFunction", stack.resources).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return StatusApiClient(stack.workspaces[0])


@pytest.fixture
def profiles(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> ProfilesApi:
    """The Profiles function with its template environment, for the first demo workspace."""
    for name, value in function_environment("ProfilesApiFunction", stack.resources).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    demo = stack.workspaces[0]
    return ProfilesApi(demo.workspace, demo.api_key, import_function("profiles_api"))
