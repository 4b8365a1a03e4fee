"""Suppressions (docs/contract.md section 8): Fyno's three routes, and a suppressed destination gets nothing: its
notification is `skipped` (reason `suppressed`) at the door, and at send time when the suppression came later."""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pytest

from notify.dal.suppressions import SuppressionItem, destination_entry, put_suppression, suppression_id
from notify.models.limits import MAX_SUPPRESSION_DESCRIPTION_CHARACTERS
from tests.support.clients import (
    AutomationApiClient,
    BulkApiClient,
    EventApiClient,
    ProfilesApi,
    StatusApiClient,
    welcome,
)
from tests.support.faults import fail_call
from tests.support.sender import SenderDriver
from tests.support.stack import FakeLambdaContext, Stack, function_timeout_ms, sample_event, sent_emails

ADDED = {"status": "ok", "_message": "User has been added to the suppression!"}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any  # a list for GET


class SuppressionsApi:
    """Calls the Profiles function's /v1/{workspace}/suppressions routes with payload 2.0 events."""

    def __init__(self, profiles: ProfilesApi) -> None:
        self.profiles = profiles

    def call(
        self,
        method: str,
        tail: str = "",
        body: Any = None,
        *,
        workspace: str | None = None,
        api_key: str | None = "default",
    ) -> Answer:
        path, _, query = tail.partition("?")
        event = copy.deepcopy(sample_event("profiles_api/patch_channel.json"))
        workspace = workspace or self.profiles.workspace
        event["rawPath"] = event["requestContext"]["http"]["path"] = f"/v1/{workspace}/suppressions{path}"
        event["requestContext"]["http"]["method"] = method
        event["rawQueryString"] = query
        if query:
            event["queryStringParameters"] = dict(parse_qsl(query))
        key = self.profiles.api_key if api_key == "default" else api_key
        event["headers"] = {"content-type": "application/json", **({"authorization": f"Bearer {key}"} if key else {})}
        event["body"] = None if body is None else json.dumps(body)
        timeout = FakeLambdaContext(function_timeout_ms("ProfilesApiFunction"))
        response = self.profiles.module.lambda_handler(event, timeout)
        return Answer(
            status=response["statusCode"],
            headers={name.lower(): value for name, value in response.get("headers", {}).items()},
            body=json.loads(response["body"]) if response.get("body") else {},
        )


def suppress(api: SuppressionsApi, body: dict[str, Any], **kwargs: Any) -> Answer:
    return api.call("POST", "", body, **kwargs)


def listed(api: SuppressionsApi, **kwargs: Any) -> Answer:
    return api.call("GET", "", **kwargs)


def remove(api: SuppressionsApi, query: str) -> Answer:
    return api.call("DELETE", f"?{query}")


@pytest.fixture
def api(profiles: ProfilesApi) -> SuppressionsApi:
    return SuppressionsApi(profiles)


def test_a_suppression_is_added_listed_and_removed_with_fynos_answers(api: SuppressionsApi) -> None:
    added = suppress(api, {"destination": "Rahul@Example.com", "channel": "email", "description": "asked us to stop"})
    assert (added.status, added.body) == (200, ADDED)

    entries = listed(api).body
    assert [(e["destination"], e["channel"], e["description"], e["expiry_ts"]) for e in entries] == [
        ("Rahul@Example.com", "email", "asked us to stop", None)
    ]
    assert set(entries[0]) == {"_id", "destination", "distinct_id", "channel", "description", "created_at", "expiry_ts"}
    # The same suppression again is the same entry.
    assert suppress(api, {"destination": "rahul@example.com", "channel": "email"}).status == 200
    assert len(listed(api).body) == 1

    removed = remove(api, f"_id={entries[0]['_id']}")
    assert (removed.status, removed.body["status"]) == (200, "ok")
    assert listed(api).body == []
    again = remove(api, f"_id={entries[0]['_id']}")
    assert (again.status, again.body) == (400, {"_message": "No suppression matches", "status": "error"})


def test_remove_by_destination_or_distinct_id_and_the_trailing_slash(api: SuppressionsApi) -> None:
    suppress(api, {"destination": "+14155550100", "channel": "sms"})
    suppress(api, {"destination": "+14155550100", "channel": "whatsapp"})
    suppress(api, {"distinct_id": "user-9", "channel": "email"})

    assert remove(api, "destination=%2B14155550100&channel=sms").status == 200
    assert sorted(e["channel"] for e in listed(api).body) == ["email", "whatsapp"]
    assert api.call("DELETE", "/?distinct_id=user-9").status == 200
    assert [e["channel"] for e in listed(api).body] == ["whatsapp"]


def test_an_invalid_destination_is_fynos_400_and_stores_nothing(api: SuppressionsApi) -> None:
    refused = suppress(api, {"destination": "not-an-email", "channel": "email"})

    assert refused.status == 400
    assert refused.body["_message"] == "Invalid destination for channel email"
    assert refused.body["errors"][0]["field"] == "destination"
    assert listed(api).body == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"destination": "a@example.com"}, "channel"),
        ({"channel": "email"}, "body"),
        ({"channel": "email", "destination": "a@example.com", "distinct_id": "u"}, "body"),
        ({"channel": "email", "destination": "a@example.com", "expiry_ts": 1}, "expiry_ts"),
        ({"channel": "email", "destination": "a@example.com", "expiry_ts": "soon"}, "expiry_ts"),
        ({"channel": "email", "destination": "a@example.com", "expiry_ts": 10**400}, "expiry_ts"),
        ({"channel": "email", "destination": "a@example.com", "expiry_ts": float("nan")}, "expiry_ts"),
        ({"channel": "email", "destination": "a@example.com", "extra": 1}, "extra"),
        ({"channel": "email", "distinct_id": "x" * 513}, "distinct_id"),
        (
            {
                "channel": "email",
                "destination": "a@example.com",
                "description": "d" * (MAX_SUPPRESSION_DESCRIPTION_CHARACTERS + 1),
            },
            "description",
        ),
    ],
)
def test_a_body_past_a_limit_or_malformed_is_400_naming_the_field_and_stores_nothing(
    api: SuppressionsApi, body: dict[str, Any], field: str
) -> None:
    refused = suppress(api, body)

    assert refused.status == 400, refused.body
    assert refused.body["errors"][0]["field"] == field
    assert listed(api).body == []


def test_a_description_at_its_limit_and_an_expiry_are_kept(api: SuppressionsApi) -> None:
    description = "d" * MAX_SUPPRESSION_DESCRIPTION_CHARACTERS
    expiry = int(time.time()) + 3600
    body = {"channel": "email", "destination": "a@example.com", "description": description, "expiry_ts": expiry}
    assert suppress(api, body).status == 200

    (entry,) = listed(api).body
    assert entry["description"] == description
    assert entry["expiry_ts"].startswith(time.strftime("%Y-%m-%dT", time.gmtime(expiry)))


def test_suppressions_are_per_workspace_and_need_the_workspaces_key(api: SuppressionsApi, stack: Stack) -> None:
    suppress(api, {"destination": "a@example.com", "channel": "email"})
    other = stack.workspaces[1]

    assert listed(api, workspace=other.workspace, api_key=other.api_key).body == []
    assert listed(api, api_key=None).status == 401
    assert listed(api, workspace=other.workspace).status == 401


def test_a_suppressed_address_gets_nothing_and_shows_skipped(
    api: SuppressionsApi, client: EventApiClient, stack: Stack, status: StatusApiClient
) -> None:
    suppress(api, {"destination": "rahul@example.com", "channel": "email", "description": "hard bounce"})

    response = client.post(welcome("RAHUL@example.com"), key="suppressed")

    assert response.status == 202, response.body
    receipt = response.json()["response"]["email"]
    assert (receipt["status"], receipt["_message"]) == ("skipped", "suppressed: hard bounce")
    assert stack.queued_messages() == []
    shown = status.get(response.json()["request_id"]).json()["notifications"]
    assert [(n["state"], n["reason"]) for n in shown] == [("skipped", "suppressed: hard bounce")]
    # Another address is sent as always.
    assert client.post(welcome("priya@example.com")).json()["response"]["email"]["status"] == "ok"


def test_a_suppressed_distinct_id_is_skipped_on_that_channel(
    api: SuppressionsApi, profiles: ProfilesApi, client: EventApiClient
) -> None:
    suppress(api, {"distinct_id": "user-7", "channel": "email"})

    body = {**welcome("someone@example.com"), "distinct_id": "user-7"}
    profiles.create({"distinct_id": "user-7"})
    receipt = client.post(body).json()["response"]["email"]

    assert (receipt["status"], receipt["_message"]) == ("skipped", "suppressed")


def test_an_expired_suppression_suppresses_nothing(client: EventApiClient, stack: Stack) -> None:
    workspace = stack.workspaces[0].workspace
    entry = destination_entry("email", "rahul@example.com")
    item = SuppressionItem(
        suppression_id(workspace, entry), "email", "rahul@example.com", None, None, "2020-01-01T00:00:00.000Z", 1
    )
    put_suppression(workspace, entry, item)

    assert client.post(welcome()).json()["response"]["email"]["status"] == "ok"


def test_bulk_items_and_automation_steps_skip_suppressed_destinations(
    api: SuppressionsApi, bulk_client: BulkApiClient, stack: Stack
) -> None:
    suppress(api, {"destination": "b@example.com", "channel": "email"})
    batch = [
        {"to": {"email": email}, "data": {"name": "N", "order_id": "1", "amount": "1"}}
        for email in ("a@example.com", "b@example.com")
    ]
    answer = bulk_client.post({"event": "OrderConfirmed", "batch": batch}).json()["response"]

    assert [item["email"]["status"] for item in answer] == ["ok", "skipped"]
    trigger = AutomationApiClient(stack.workspaces[0]).post(
        {"email": "b@example.com", "phone": "+14155550100", "name": "B", "order": {"id": "1", "amount": "1"}}
    )
    steps = trigger.json()["steps"]
    assert steps[0]["response"]["email"]["status"] == "skipped"
    assert (steps[1]["response"]["email"]["status"], steps[1]["response"]["sms"]["status"]) == ("skipped", "ok")


def test_R9_an_unreachable_suppression_list_is_503_and_queues_nothing(client: EventApiClient, stack: Stack) -> None:
    with fail_call("dynamodb", "BatchGetItem", table=stack.resources.tables["SuppressionsTable"]):
        refused = client.post(welcome(), key="suppressions-down")

    assert refused.status == 503
    assert stack.queued_messages() == []
    assert client.post(welcome(), key="suppressions-down").status == 202


def test_a_suppression_added_after_the_request_was_accepted_still_stops_the_send(
    api: SuppressionsApi, client: EventApiClient, sender: SenderDriver, status: StatusApiClient
) -> None:
    """The race of a suppression with a send: the sender checks the list at send time, under the msg_id claim."""
    accepted = client.post(welcome(), key="raced")
    assert accepted.json()["response"]["email"]["status"] == "ok"
    suppress(api, {"destination": "rahul@example.com", "channel": "email", "description": "complaint"})

    sender.drain()

    assert sent_emails() == []
    shown = status.get(accepted.json()["request_id"]).json()["notifications"]
    assert [(n["state"], n["reason"]) for n in shown] == [("skipped", "suppressed: complaint")]


def test_the_sender_retries_when_the_suppression_list_is_unreachable(
    client: EventApiClient, sender: SenderDriver, stack: Stack
) -> None:
    client.post(welcome(), key="list-down")
    with fail_call("dynamodb", "BatchGetItem", table=stack.resources.tables["SuppressionsTable"]):
        sender.run_once()
    assert sent_emails() == []

    sender.expire_in_flight()
    sender.drain()
    assert len(sent_emails()) == 1
