"""Event API contract (docs/contract.md section 2): response shapes, validation of every field, routing."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.clients import EventApiClient, welcome
from tests.support.stack import Stack


def test_accepted_event_has_the_exact_fyno_shape(client: EventApiClient, stack: Stack) -> None:
    response = client.post(welcome(), key="shape")
    assert response.status == 202
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"event", "received_time", "request_id", "response"}
    assert body["event"] == "Welcome_Email"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["received_time"])
    received = datetime.fromisoformat(body["received_time"])
    assert abs((datetime.now(UTC) - received).total_seconds()) < 60
    uuid.UUID(body["request_id"])
    assert set(body["response"]) == {"email"}
    email = body["response"]["email"]
    assert set(email) == {"destination", "msg_id", "status"}
    assert email["destination"] == "rahul@example.com" and email["status"] == "ok"
    uuid.UUID(email["msg_id"])


def test_accepted_event_queues_one_notification_per_channel(client: EventApiClient, stack: Stack) -> None:
    body = {
        "event": "OrderConfirmed",
        "to": {"email": "buyer@example.com", "sms": "+14155550100"},
        "data": {"name": "Ana", "order_id": "A-1", "amount": "12 EUR"},
        "distinct_id": "user-1",
        "callback": {"custom_id": "order-7", "custom1": "crm"},
    }
    response = client.post(body, key="order")
    answer = response.json()["response"]
    assert {channel: item["destination"] for channel, item in answer.items()} == {
        "email": "buyer@example.com",
        "sms": "+14155550100",
    }
    messages = {message["channel"]: message for message in stack.queued_messages()}
    assert set(messages) == {"email", "sms"}
    for channel, message in messages.items():
        assert message["msg_id"] == answer[channel]["msg_id"]
        assert message["request_id"] == response.json()["request_id"]
        assert message["workspace"] == "WSLOCAL0001" and message["version"] == "live"
        assert message["data"] == {"name": "Ana", "order_id": "A-1", "amount": "12 EUR"}
        assert message["distinct_id"] == "user-1"
        assert message["callback"] == {"custom_id": "order-7", "custom1": "crm"}


def test_destination_for_a_channel_the_event_lacks_is_skipped(client: EventApiClient, stack: Stack) -> None:
    response = client.post({**welcome(), "to": {"email": "a@example.com", "sms": "+14155550100"}})
    assert response.status == 202
    assert set(response.json()["response"]) == {"email"}
    assert [message["channel"] for message in stack.queued_messages()] == ["email"]


def test_event_with_no_channel_for_the_destinations_is_400(client: EventApiClient, stack: Stack) -> None:
    response = client.post({"event": "Welcome_Email", "to": {"sms": "+14155550100"}})
    assert response.status == 400
    assert response.json()["errors"] == [{"field": "to", "message": "must include one of: email"}]
    assert stack.queued_messages() == []


def test_unknown_event_is_400_with_fyno_message(client: EventApiClient, stack: Stack) -> None:
    response = client.post({"event": "Nope", "to": {"email": "a@example.com"}})
    assert response.status == 400
    assert response.json() == {
        "_message": "The notification event name 'Nope' is invalid or does not exist",
        "status": "error",
    }


def test_event_of_another_workspace_is_unknown(client: EventApiClient, stack: Stack) -> None:
    from notify.dal.definitions import put_event_definition
    from notify.models.definitions import EventDefinition

    private = EventDefinition.model_validate({"name": "OnlyTheirs", "channels": {"email": {"body": "x"}}})
    put_event_definition(stack.workspaces[1].workspace, private)
    response = client.post({"event": "OnlyTheirs", "to": {"email": "a@example.com"}})
    assert response.status == 400


@pytest.mark.parametrize(
    ("raw_body", "message"),
    [
        ("{", "Malformed JSON in request body"),
        ("", "The request body must be a JSON object"),
        ("[1, 2]", "The request body must be a JSON object"),
        ('"text"', "The request body must be a JSON object"),
    ],
)
def test_body_that_is_not_a_json_object_is_400(
    client: EventApiClient, stack: Stack, raw_body: str, message: str
) -> None:
    response = client.post(raw_body=raw_body)
    assert response.status == 400
    assert response.json() == {"_message": message, "status": "error"}


def event_with_nested_data(depth: int) -> str:
    """A Welcome_Email body whose data holds arrays `depth` levels deep (as raw JSON: json.dumps would recurse)."""
    nested = "[" * depth + "]" * depth
    return '{"event": "Welcome_Email", "to": {"email": "a@example.com"}, "data": {"name": "A", "x": ' + nested + "}}"


@pytest.mark.parametrize("depth", [300, 100_000], ids=["past-pydantic-serialiser", "past-json-parser"])
def test_body_nested_too_deep_is_400_and_nothing_is_stored(client: EventApiClient, stack: Stack, depth: int) -> None:
    """Was a 500: a stored 500 once the queue message failed to serialise, or json.loads' RecursionError."""
    response = client.post(raw_body=event_with_nested_data(depth), key="too-deep")
    assert response.status == 400
    assert response.json() == {
        "_message": "The request body nests arrays and objects more than 64 levels deep",
        "status": "error",
    }
    assert stack.idempotency_items() == [] and stack.queued_messages() == []


def test_body_nested_64_levels_deep_is_accepted(client: EventApiClient, stack: Stack) -> None:
    assert client.post(raw_body=event_with_nested_data(61)).status == 202  # with the body, data and x: 64


def test_body_that_is_not_utf8_is_400_malformed_json(client: EventApiClient, stack: Stack) -> None:
    """Was a 500: the base64 body API Gateway passes for non-UTF-8 bytes failed to decode outside the parser."""
    response = client.post(binary_body=b'{"event": "\xff", "to": {"email": "a@example.com"}}', key="not-utf8")
    assert response.status == 400
    assert response.json() == {"_message": "Malformed JSON in request body", "status": "error"}
    assert stack.idempotency_items() == [] and stack.queued_messages() == []


TO = {"email": "a@example.com"}
INVALID_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("missing-event", {"to": {"email": "a@example.com"}}, "event"),
    ("empty-event", {"event": "", "to": {"email": "a@example.com"}}, "event"),
    ("event-not-string", {"event": 5, "to": {"email": "a@example.com"}}, "event"),
    ("missing-to", {"event": "Welcome_Email"}, "to"),
    ("to-not-object", {"event": "Welcome_Email", "to": "a@example.com"}, "to"),
    ("to-empty", {"event": "Welcome_Email", "to": {}}, "to"),
    ("unknown-channel", {"event": "Welcome_Email", "to": {"fax": "123"}}, "to.fax"),
    ("bad-email", {"event": "Welcome_Email", "to": {"email": "rahul"}}, "to.email"),
    ("email-not-string", {"event": "Welcome_Email", "to": {"email": 42}}, "to.email"),
    ("bad-sms", {"event": "Welcome_Email", "to": {"sms": "4155550100"}}, "to.sms"),
    ("bad-whatsapp", {"event": "Welcome_Email", "to": {"whatsapp": "+0123"}}, "to.whatsapp"),
    ("bad-voice", {"event": "Welcome_Email", "to": {"voice": "call me"}}, "to.voice"),
    ("blank-push", {"event": "Welcome_Email", "to": {"push": "  "}}, "to.push"),
    ("blank-inapp", {"event": "Welcome_Email", "to": {"inapp": ""}}, "to.inapp"),
    ("blank-discord", {"event": "Welcome_Email", "to": {"discord": ""}}, "to.discord"),
    ("blank-teams", {"event": "Welcome_Email", "to": {"teams": ""}}, "to.teams"),
    ("slack-plain-http", {"event": "Welcome_Email", "to": {"slack": "http://hooks.slack.com/x"}}, "to.slack"),
    ("slack-blank", {"event": "Welcome_Email", "to": {"slack": " "}}, "to.slack"),
    ("data-not-object", {"event": "Welcome_Email", "to": TO, "data": [1]}, "data"),
    (
        "distinct-id-not-string",
        {"event": "Welcome_Email", "to": TO, "distinct_id": 1},
        "distinct_id",
    ),
    ("callback-not-object", {"event": "Welcome_Email", "to": TO, "callback": "x"}, "callback"),
]


@pytest.mark.parametrize(
    ("body", "field"), [(b, f) for _, b, f in INVALID_BODIES], ids=[i for i, _, _ in INVALID_BODIES]
)
def test_each_invalid_field_is_a_400_naming_it(client: EventApiClient, stack: Stack, body: dict, field: str) -> None:
    response = client.post(body, key="invalid")
    assert response.status == 400
    answer = response.json()
    assert answer["status"] == "error"
    assert answer["_message"].startswith(f"Invalid request body: {field}")
    assert field in [error["field"] for error in answer["errors"]]
    assert all(set(error) == {"field", "message"} for error in answer["errors"])
    assert stack.queued_messages() == []


def test_every_invalid_field_is_reported_at_once(client: EventApiClient, stack: Stack) -> None:
    response = client.post({"event": "", "to": {"email": "x", "sms": "y"}})
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"event", "to.email", "to.sms"}


@pytest.mark.parametrize(
    "to",
    [
        {"slack": "https://hooks.slack.com/services/T000/B000/XXXX"},
        {"slack": "U024BE7LH"},
        {"slack": "#general"},
        {"slack": "someone@example.com"},
        {"whatsapp": "+447700900123", "voice": "+14155550100", "push": "device-token", "inapp": "user-1"},
        {"discord": "https://discord.com/api/webhooks/1/abc", "teams": "https://example.webhook.office.com/x"},
    ],
)
def test_valid_destinations_are_accepted_and_echoed(client: EventApiClient, stack: Stack, to: dict) -> None:
    from notify.dal.definitions import put_event_definition
    from notify.models.definitions import EventDefinition

    every_channel = {channel: {"body": "hi"} for channel in to}
    put_event_definition("WSLOCAL0001", EventDefinition.model_validate({"name": "Any", "channels": every_channel}))
    response = client.post({"event": "Any", "to": to})
    assert response.status == 202
    assert {c: v["destination"] for c, v in response.json()["response"].items()} == to


def test_unknown_top_level_fields_are_ignored_for_fyno_compatibility(client: EventApiClient, stack: Stack) -> None:
    response = client.post({**welcome(), "metadata": {"source": "sdk"}})
    assert response.status == 202


def test_data_null_means_no_data(client: EventApiClient, stack: Stack) -> None:
    response = client.post({**welcome(), "data": None})
    assert response.status == 400  # the template's variable is then missing (D8), not a type error
    assert response.json()["errors"] == [
        {"field": "data", "message": "the email template needs 'name', which data does not give"}
    ]


@pytest.mark.parametrize("version", ["beta", "LIVE", ""])
def test_unknown_version_is_404(client: EventApiClient, stack: Stack, version: str) -> None:
    response = client.post(welcome(), version=version)
    assert response.status == 404
    assert response.json() == {"_message": "Not found", "status": "error"}
