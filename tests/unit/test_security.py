"""Security properties (issue 6): one workspace never reads or replays another's records (R2), and logs
never carry an API key, a provider secret or a full recipient address, on success or failure paths.

Webhook SSRF rules are tested on the guard in test_webhooks.py; here, through the sender end to end.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError

from local.template import function_environment, resources_of_type
from notify import observability
from notify.dal.definitions import put_event_definition
from notify.dal.provider_secrets import put_provider_settings
from notify.logic.providers.webhooks import HttpClient, HttpResponse
from notify.models.definitions import EventDefinition
from notify.models.delivery import ProviderSettings
from tests.support.clients import ApiClient, AutomationApiClient, BulkApiClient, EventApiClient, StatusApiClient
from tests.support.faults import fail_call
from tests.support.openers import ScriptedOpener
from tests.support.sender import SenderDriver
from tests.support.stack import FakeLambdaContext, Stack, sample_event, sent_emails

EMAIL = "rahul.sharma@example.com"
OTHER_EMAIL = "priya.iyer@example.org"
PHONE = "+14155550123"
WEBHOOK = "https://hooks.slack.com/services/T0SECRET/B0SECRET/abcdefXYZsecret"
BOT_TOKEN = "xoxb-1234-secret-bot-token"
WRONG_KEY = "wrong-key-9f8e7d6c5b4a39281706"
ORDER_DATA = {"name": "Rahul", "order_id": "A-1", "amount": "42 EUR"}


# Cross-workspace isolation (R2) -----------------------------------------------------------------


@dataclass
class Api:
    name: str
    client: Callable[[Any], ApiClient]
    body: Callable[[str], Any]


def event_body(email: str) -> Any:
    return {"event": "Welcome_Email", "to": {"email": email}, "data": {"name": "A"}}


def bulk_body(email: str) -> Any:
    return {"event": "Welcome_Email", "batch": [{"to": {"email": email}, "data": {"name": "A"}}]}


def automation_body(email: str) -> Any:
    return {"email": email, "name": "A", "order": {"id": "A-1", "amount": "1 EUR"}}


APIS = [
    Api("event", EventApiClient, event_body),
    Api("bulk", BulkApiClient, bulk_body),
    Api("automation", AutomationApiClient, automation_body),
]


def request_ids(api: str, body: dict[str, Any]) -> list[str]:
    """The ids a client can look up on the status route: per item for bulk, the request otherwise."""
    if api == "bulk":
        return [item["request_id"] for item in body["response"]]
    return [body["request_id"]]


def define(stack: Stack, name: str, channels: dict[str, Any]) -> None:
    put_event_definition(
        stack.workspaces[0].workspace, EventDefinition.model_validate({"name": name, "channels": channels})
    )


@pytest.mark.parametrize("api", APIS, ids=lambda api: api.name)
def test_R2_a_key_another_workspace_used_replays_nothing_of_theirs(api: Api, stack: Stack) -> None:
    mine, theirs = api.client(stack.workspaces[0]), api.client(stack.workspaces[1])
    first = mine.post(api.body(EMAIL), key="leaked-key")

    answer = theirs.post(api.body(OTHER_EMAIL), key="leaked-key")
    again = theirs.post(api.body(OTHER_EMAIL), key="leaked-key")

    assert first.status == answer.status == 202
    assert "idempotency-replayed" not in answer.headers
    assert EMAIL not in answer.body and first.json()["request_id"] != answer.json()["request_id"]
    # Their replay is of their own first answer, never of ours.
    assert (again.body, again.headers["idempotency-replayed"]) == (answer.body, "true")
    destinations = sorted(message["destination"] for message in stack.queued_messages())
    assert destinations == sorted([EMAIL, OTHER_EMAIL] * (2 if api.name == "automation" else 1))


@pytest.mark.parametrize("api", APIS, ids=lambda api: api.name)
def test_status_route_never_shows_another_workspaces_request(api: Api, stack: Stack, status: StatusApiClient) -> None:
    theirs = StatusApiClient(stack.workspaces[1])
    accepted = api.client(stack.workspaces[1]).post(api.body(OTHER_EMAIL), key="k-1").json()

    for request_id in request_ids(api.name, accepted):
        assert theirs.get(request_id).status == 200
        answer = status.get(request_id)
        assert answer.status == 404
        assert answer.json() == {"_message": f"The request '{request_id}' does not exist", "status": "error"}
        # Their workspace in the path with our key: the key does not fit the workspace.
        assert status.get(request_id, workspace=stack.workspaces[1].workspace).status == 401


@pytest.mark.parametrize("api", APIS, ids=lambda api: api.name)
def test_status_route_never_shows_another_versions_request(api: Api, stack: Stack, status: StatusApiClient) -> None:
    client = api.client(stack.workspaces[0])
    live = client.post(api.body(EMAIL), key="k-2").json()
    test = client.post(api.body(EMAIL), key="k-2", version="test").json()

    for request_id in request_ids(api.name, live):
        assert status.get(request_id, version="test").status == 404
        assert status.get(request_id, version="live").status == 200
    for request_id in request_ids(api.name, test):
        assert status.get(request_id, version="live").status == 404
        assert status.get(request_id, version="test").status == 200


def test_another_workspaces_event_definitions_are_unknown_even_when_cached(stack: Stack) -> None:
    define(stack, "OnlyMine", {"email": {"subject": "s", "body": "b"}})
    mine, theirs = EventApiClient(stack.workspaces[0]), EventApiClient(stack.workspaces[1])
    assert mine.post({"event": "OnlyMine", "to": {"email": EMAIL}}).status == 202  # now cached in this container

    answer = theirs.post({"event": "OnlyMine", "to": {"email": OTHER_EMAIL}}, key="k-1")

    assert answer.status == 400
    assert answer.json()["_message"] == "The notification event name 'OnlyMine' is invalid or does not exist"
    assert [message["workspace"] for message in stack.queued_messages()] == [stack.workspaces[0].workspace]


def test_a_workspace_never_sends_with_another_workspaces_slack_bot_token(
    stack: Stack, sender: SenderDriver, status: StatusApiClient
) -> None:
    settings = ProviderSettings.model_validate({"slack_bot_token": BOT_TOKEN})
    put_provider_settings(stack.workspaces[0].workspace, settings)
    put_event_definition(
        stack.workspaces[1].workspace,
        EventDefinition.model_validate({"name": "Chat", "channels": {"slack": {"body": "hi"}}}),
    )
    opener = ScriptedOpener({"/": [HttpResponse(200, b'{"ok": true, "user": {"id": "U1"}, "ts": "1"}')]})
    sender.use_http(HttpClient(opener=opener, resolver=lambda host, port: ["34.223.112.74"], timeout=1.0))

    accepted = EventApiClient(stack.workspaces[1]).post({"event": "Chat", "to": {"slack": OTHER_EMAIL}}).json()
    sender.drain()

    assert opener.calls == []
    [shown] = StatusApiClient(stack.workspaces[1]).get(accepted["request_id"]).json()["notifications"]
    assert shown["state"] == "failed"
    assert shown["reason"].startswith("no slack provider configured")


# Logs and traces ----------------------------------------------------------------------------------


@pytest.mark.parametrize("function", sorted(resources_of_type("AWS::Serverless::Function")))
def test_traces_never_capture_responses_that_echo_addresses(function: str, stack: Stack) -> None:
    """Powertools Tracer records each handler's return value in X-Ray unless told not to."""
    assert function_environment(function, stack.resources)["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"


class CapturedLogs(logging.Handler):
    """Every log record, formatted as CloudWatch would receive it (JSON with extras and tracebacks)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(observability.logger.registered_formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logs(capfd: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """All that the functions log (the product's logger at DEBUG, Powertools' and other libraries' records
    through the root logger) plus what reaches stdout and stderr directly (prints, metrics, warnings)."""
    handler = CapturedLogs()
    product = logging.getLogger(observability.logger.name)
    powertools = logging.getLogger("aws_lambda_powertools")
    root = logging.getLogger()
    levels = {product: product.level, powertools: powertools.level, root: root.level}
    product.setLevel(logging.DEBUG)
    powertools.setLevel(logging.DEBUG)
    root.setLevel(logging.INFO)
    product.addHandler(handler)
    root.addHandler(handler)

    def output() -> str:
        captured = capfd.readouterr()
        return "\n".join([*handler.lines, captured.out, captured.err])

    try:
        yield output
    finally:
        product.removeHandler(handler)
        root.removeHandler(handler)
        for logger, level in levels.items():
            logger.setLevel(level)


def assert_never_logged(output: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in output, f"{secret!r} was logged"


def test_api_flows_never_log_keys_or_addresses(stack: Stack, logs: Callable[[], str], status: StatusApiClient) -> None:
    event, bulk = EventApiClient(stack.workspaces[0]), BulkApiClient(stack.workspaces[0])
    automation = AutomationApiClient(stack.workspaces[0])
    order = {"event": "OrderConfirmed", "to": {"email": EMAIL, "sms": PHONE}, "data": ORDER_DATA}

    accepted = event.post(order, key="k-1")
    assert event.post(order, key="k-1").headers["idempotency-replayed"] == "true"
    assert (
        bulk.post({"event": "OrderConfirmed", "batch": [{"to": order["to"], "data": ORDER_DATA}]}, key="k-1").status
        == 202
    )
    assert automation.post({"email": EMAIL, "phone": PHONE, "name": "R"}, key="k-1").status == 202
    assert status.get(accepted.json()["request_id"]).status == 200
    # Failures before execution: bad keys, validation errors that name the address, unknown names.
    assert event.post(order, api_key=WRONG_KEY).status == 401
    assert event.post(order, api_key=stack.workspaces[1].api_key).status == 401
    assert status.get(accepted.json()["request_id"], api_key=WRONG_KEY).status == 401
    rejected = event.post({"event": "OrderConfirmed", "to": {"email": "rahul.sharma@@example.com", "sms": "+1415x"}})
    assert rejected.status == 400
    assert bulk.post({"event": "OrderConfirmed", "batch": [{"to": {"email": EMAIL, "fax": PHONE}}]}).status == 400
    assert event.post(raw_body=f'{{"event": "OrderConfirmed", "to": {{"email": "{EMAIL}"').status == 400
    assert event.post({"event": "NoSuchEvent", "to": {"email": EMAIL}}).status == 400
    assert automation.post({"email": EMAIL}, route="automation/no-such/trigger").status == 400
    # Failures after execution started, and stores that cannot be reached.
    with fail_call("sqs", "SendMessageBatch"):
        assert event.post(order, key="k-2").status == 500
        assert bulk.post({"event": "OrderConfirmed", "batch": [{"to": order["to"], "data": ORDER_DATA}]}).status == 500
        assert automation.post({"email": EMAIL, "phone": PHONE}).status == 500
    with fail_call("dynamodb", "PutItem", table=stack.resources.tables["IdempotencyTable"]):
        assert event.post(order, key="k-3").status == 503
    with fail_call("dynamodb", "GetItem", table=stack.resources.tables["ApiKeysTable"]):
        assert event.post(order, api_key="never-cached-key-0123456789").status == 503

    output = logs()
    assert "event accepted" in output and "enqueue failed" in output  # the capture sees the functions' logs
    assert_never_logged(
        output,
        *(workspace.api_key for workspace in stack.workspaces),
        WRONG_KEY,
        "never-cached-key-0123456789",
        EMAIL,
        "rahul.sharma@@example.com",
        PHONE,
    )


def ses_rejects(**_: Any) -> None:
    message = f"Email address is not verified. The following identities failed the check in region US-EAST-1: {EMAIL}"
    raise ClientError({"Error": {"Code": "MessageRejected", "Message": message}}, "SendEmail")


def sns_rejects(**_: Any) -> None:
    message = f"Invalid parameter: PhoneNumber Reason: {PHONE} is not valid to publish to"
    raise ClientError({"Error": {"Code": "InvalidParameter", "Message": message}}, "Publish")


def test_sender_flows_never_log_addresses_or_provider_secrets(
    stack: Stack, client: EventApiClient, sender: SenderDriver, status: StatusApiClient, logs: Callable[[], str]
) -> None:
    define(stack, "Chat", {"slack": {"body": "hi {{ name }}"}})
    put_provider_settings(
        stack.workspaces[0].workspace, ProviderSettings.model_validate({"slack_bot_token": BOT_TOKEN})
    )
    opener = ScriptedOpener(
        {
            "/services/": [HttpResponse(429, b"slow down"), HttpResponse(200, b"ok")],  # throttled once, then sent
            "/api/users.lookupByEmail": [HttpResponse(200, b'{"ok": false, "error": "users_not_found"}')],
        }
    )
    sender.use_http(HttpClient(opener=opener, resolver=lambda host, port: ["34.223.112.74"], timeout=1.0))
    order = {"event": "OrderConfirmed", "to": {"email": EMAIL, "sms": PHONE}, "data": ORDER_DATA}

    delivered = client.post(order).json()
    chat = client.post({"event": "Chat", "to": {"slack": WEBHOOK}, "data": {"name": "R"}}).json()
    by_email = client.post({"event": "Chat", "to": {"slack": OTHER_EMAIL}, "data": {"name": "R"}}).json()
    client.post(order, version="test")
    sender.drain()
    with fail_call("sesv2", "SendEmail", action=ses_rejects), fail_call("sns", "Publish", action=sns_rejects):
        rejected = client.post(order).json()
        sender.drain()

    states = {}
    for request in (delivered, chat, by_email, rejected):
        shown = status.get(request["request_id"]).json()["notifications"]
        states[request["request_id"]] = {n["channel"]: n["state"] for n in shown}
    assert states == {
        delivered["request_id"]: {"email": "sent", "sms": "sent"},
        chat["request_id"]: {"slack": "sent"},
        by_email["request_id"]: {"slack": "failed"},
        rejected["request_id"]: {"email": "failed", "sms": "failed"},
    }
    assert len(sent_emails()) == 1
    output = logs()
    assert "notification delivered" in output and "delivery will be retried" in output
    assert "notification failed" in output and "MessageRejected" in output
    assert_never_logged(output, EMAIL, OTHER_EMAIL, PHONE, WEBHOOK, "abcdefXYZsecret", BOT_TOKEN)


def test_status_answers_show_destinations_masked(
    stack: Stack, client: EventApiClient, sender: SenderDriver, status: StatusApiClient
) -> None:
    define(stack, "Chat", {"slack": {"body": "hi"}})
    order = {"event": "OrderConfirmed", "to": {"email": EMAIL, "sms": PHONE}, "data": ORDER_DATA}
    requests = [client.post(order).json(), client.post({"event": "Chat", "to": {"slack": WEBHOOK}}).json()]
    sender.drain()

    bodies = [status.get(request["request_id"]).body for request in requests]

    assert {n["destination"] for body in bodies for n in json.loads(body)["notifications"]} == {
        "r***@example.com",
        "+1***23",
        "ht***et",
    }
    assert_never_logged("\n".join(bodies), EMAIL, PHONE, WEBHOOK)


def test_malformed_queue_message_fails_without_its_address_in_what_the_runtime_logs(
    sender: SenderDriver, logs: Callable[[], str]
) -> None:
    """pydantic quotes the input it cannot read; Lambda logs the traceback of a batch whose every record failed."""
    record = {
        **sample_event("sender/sqs_batch.json")["Records"][0],
        "messageId": "m-1",
        "body": json.dumps({"channel": "email", "destination": "ana@example.com"}),
    }

    with pytest.raises(BatchProcessingError) as failed:
        sender.module.lambda_handler({"Records": [record]}, FakeLambdaContext())

    assert "queue message m-1 is not a notification" in str(failed.value)
    assert_never_logged(logs() + str(failed.value), "ana@example.com")


# Webhooks, end to end (the guard's rules are in test_webhooks.py) --------------------------------


def test_webhook_whose_name_resolves_to_a_private_address_is_never_contacted(
    stack: Stack, client: EventApiClient, sender: SenderDriver, status: StatusApiClient
) -> None:
    """DNS, not the URL, points at the metadata service: refused, recorded failed, not retried."""
    define(stack, "Chat", {"slack": {"body": "hi"}})
    opener = ScriptedOpener({"/": [HttpResponse(200, b"ok")]})
    sender.use_http(HttpClient(opener=opener, resolver=lambda host, port: ["169.254.169.254"], timeout=1.0))

    accepted = client.post({"event": "Chat", "to": {"slack": WEBHOOK}}).json()
    sender.drain()

    assert opener.calls == []
    [shown] = status.get(accepted["request_id"]).json()["notifications"]
    assert (shown["state"], shown["attempts"]) == ("failed", 1)
    assert shown["reason"] == "webhook refused: hooks.slack.com resolves to a non-public address"
    assert sender.dead_letters() == []
