"""Limits at the door (docs/contract.md section 7): what the API accepts, it carries through.

Each limit of notify.models.limits is tested at the limit (accepted, and carried through: queued, recorded,
delivered) and one past it (a 4xx naming the field and the limit, with nothing stored: the same key with a
corrected body executes). moto enforces DynamoDB's 400 KB item roughly (405,000 bytes); tests/stress holds the
same cases against AWS's DynamoDB Local, which enforces every DynamoDB limit.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from notify.dal.definitions import put_event_definition
from notify.dal.profiles import create_profile
from notify.models.definitions import EventDefinition
from notify.models.limits import (
    MAX_BODY_BYTES,
    MAX_DATA_BYTES,
    MAX_EMAIL_CHARACTERS,
    MAX_TOKEN_CHARACTERS,
    MAX_URL_CHARACTERS,
    SQS_MAX_MESSAGE_BYTES,
)
from notify.models.profiles import Profile
from tests.support.clients import (
    AutomationApiClient,
    BulkApiClient,
    EventApiClient,
    ProfilesApi,
    StatusApiClient,
    receipts_in,
    welcome,
)
from tests.support.sender import SenderDriver
from tests.support.stack import Stack, sent_emails

NOW = "2026-12-01T00:00:00.000Z"


def data_of(size: int) -> dict[str, Any]:
    """A `data` object whose compact JSON is exactly `size` bytes, with the `name` Welcome_Email needs."""
    base = {"name": "Rahul", "pad": ""}
    pad = size - len(json.dumps(base, separators=(",", ":")))
    return {"name": "Rahul", "pad": "x" * pad}


def email_of(length: int, local: int = 64) -> str:
    """An email address of exactly `length` characters, with a local part of `local` characters."""
    domain_length = length - local - 1 - len(".com")
    labels = []
    while domain_length > 0:
        label = min(domain_length, 63)
        labels.append("d" * label)
        domain_length -= label + 1
    domain = ".".join(labels)
    address = "l" * local + "@" + domain + ".com"
    # A label cut short by the dots: top up the last label to the exact length.
    return address[:-4] + "d" * (length - len(address)) + ".com"


def assert_refused(answer: Any, status: int, field: str, limit: int | str) -> None:
    assert answer.status == status, answer.body
    body = answer.json()
    assert body["status"] == "error"
    assert any(error["field"].endswith(field) and str(limit) in error["message"] for error in body["errors"]), body


# The whole body ------------------------------------------------------------------------------------------------


def test_a_body_past_the_limit_is_413_stores_nothing_and_the_key_then_executes(
    stack: Stack, client: EventApiClient
) -> None:
    body = json.dumps({**welcome(), "data": {"name": "R", "pad": "x" * MAX_BODY_BYTES}})
    refused = client.post(raw_body=body, key="too-big")

    assert_refused(refused, 413, "body", MAX_BODY_BYTES)
    assert stack.idempotency_items() == [] and stack.queued_messages() == []
    accepted = client.post(welcome(), key="too-big")
    assert accepted.status == 202 and "idempotency-replayed" not in accepted.headers


def test_a_body_of_2_mb_is_refused_with_a_4xx_not_a_stored_500(stack: Stack, client: EventApiClient) -> None:
    # Issue 18, case 1: a 1.1 MB `data` (a 2 MB body) used to pass, be refused by SQS and be stored as a 500.
    refused = client.post({**welcome(), "data": data_of(1_100_000)}, key="big-data")
    assert_refused(refused, 400, "data", MAX_DATA_BYTES)
    assert stack.idempotency_items() == [] and stack.queued_messages() == []
    assert client.post(welcome(), key="big-data").status == 202


# data ------------------------------------------------------------------------------------------------------------


def test_data_at_its_limit_is_queued_recorded_and_delivered(
    stack: Stack, client: EventApiClient, sender: SenderDriver, status: StatusApiClient
) -> None:
    accepted = client.post({**welcome(), "data": data_of(MAX_DATA_BYTES)}, key="data-at-limit")
    assert accepted.status == 202, accepted.body
    [message] = stack.queue_contents()
    assert len(message.body.encode()) <= SQS_MAX_MESSAGE_BYTES

    sender.drain()

    [email] = sent_emails()
    assert email.destinations["ToAddresses"] == ["rahul@example.com"]
    [notification] = status.get(accepted.json()["request_id"]).json()["notifications"]
    assert notification["state"] == "sent"


def test_data_one_byte_past_its_limit_is_400_naming_the_field_and_the_limit(
    stack: Stack, client: EventApiClient
) -> None:
    # Issue 18, case 2: ~500 KB `data` was accepted, then every delivery attempt failed on a 400 KB item.
    for size in (MAX_DATA_BYTES + 1, 500_000):
        refused = client.post({**welcome(), "data": data_of(size)}, key=f"data-{size}")
        assert_refused(refused, 400, "data", MAX_DATA_BYTES)
    assert stack.idempotency_items() == []


def test_bulk_item_data_past_its_limit_names_the_item(stack: Stack, bulk_client: BulkApiClient) -> None:
    batch = [{"to": {"email": "a@example.com"}, "data": data_of(10)}, {"to": {"email": "b@example.com"}}]
    batch[1]["data"] = data_of(MAX_DATA_BYTES + 1)
    refused = bulk_client.post({"event": "Welcome_Email", "batch": batch}, key="bulk-data")

    assert refused.status == 400
    [error] = refused.json()["errors"]
    assert (error["seq"], error["field"]) == (2, "data")
    assert str(MAX_DATA_BYTES) in error["message"]


def test_an_automation_payload_past_the_data_limit_names_the_step(stack: Stack) -> None:
    from notify.dal.definitions import put_automation
    from notify.models.definitions import AutomationDefinition

    # A step without a data expression gets the whole payload as its data.
    put_automation(
        stack.workspaces[0].workspace,
        AutomationDefinition.model_validate(
            {"id": "whole", "steps": [{"event": "Welcome_Email", "to": {"email": "email"}, "delay_seconds": 0}]}
        ),
    )
    payload = {"email": "a@example.com", "name": "A", "pad": "x" * MAX_DATA_BYTES}
    refused = AutomationApiClient(stack.workspaces[0], "whole").post(payload, key="automation-data")

    assert refused.status == 400
    errors = refused.json()["errors"]
    assert errors and all(error["field"] == "data" and str(MAX_DATA_BYTES) in error["message"] for error in errors)
    assert errors[0]["step"] == 1
    assert stack.idempotency_items() == []


def test_a_callback_past_its_limit_is_400(client: EventApiClient) -> None:
    refused = client.post({**welcome(), "callback": {"custom_id": "x" * 201}})
    assert refused.status == 400
    errors = refused.json()["errors"]
    assert any(error["field"] == "callback.custom_id" and "200" in error["message"] for error in errors)


def test_the_largest_callback_its_fields_allow_fits_the_callback_budget() -> None:
    from notify.models.callbacks import Callback
    from notify.models.limits import MAX_CALLBACK_BYTES, json_bytes

    # Each character as a 4-byte one, each name as long as allowed: the queue message's share still holds.
    largest = Callback(
        custom_id="\U0001f600" * 200,
        custom1="\U0001f600" * 50,
        custom2="\U0001f600" * 50,
        enable=True,
        allowlist_urls=["n" * 64] * 3,
    )
    assert json_bytes(largest.model_dump()) <= MAX_CALLBACK_BYTES


# Destinations --------------------------------------------------------------------------------------------------


def chat_event(stack: Stack) -> None:
    put_event_definition(
        stack.workspaces[0].workspace,
        EventDefinition.model_validate(
            {
                "name": "Everywhere",
                "channels": {channel: {"body": "hi"} for channel in ("email", "slack", "discord", "teams", "push")},
            }
        ),
    )


@pytest.mark.parametrize(
    ("channel", "at_limit", "past_limit", "limit"),
    [
        ("email", email_of(MAX_EMAIL_CHARACTERS), email_of(MAX_EMAIL_CHARACTERS + 1), MAX_EMAIL_CHARACTERS),
        ("email", email_of(100, local=64), email_of(100, local=65), 64),
        ("sms", "+123456789012345", "+1234567890123456", "E.164"),
        (
            "discord",
            "https://discord.com/api/webhooks/1/" + "t" * (MAX_URL_CHARACTERS - 35),
            "https://discord.com/api/webhooks/1/" + "t" * (MAX_URL_CHARACTERS - 34),
            MAX_URL_CHARACTERS,
        ),
        ("push", "t" * MAX_TOKEN_CHARACTERS, "t" * (MAX_TOKEN_CHARACTERS + 1), MAX_TOKEN_CHARACTERS),
        ("slack", "U" * MAX_TOKEN_CHARACTERS, "U" * (MAX_TOKEN_CHARACTERS + 1), MAX_TOKEN_CHARACTERS),
    ],
)
def test_destinations_are_accepted_at_their_published_length_and_refused_one_past(
    stack: Stack, client: EventApiClient, channel: str, at_limit: str, past_limit: str, limit: int | str
) -> None:
    chat_event(stack)
    event = "OrderConfirmed" if channel == "sms" else "Everywhere"
    data = {"name": "R", "order_id": "1", "amount": "1"}
    accepted = client.post({"event": event, "to": {channel: at_limit}, "data": data})
    refused = client.post({"event": event, "to": {channel: past_limit}, "data": data})

    assert accepted.status == 202, accepted.body
    assert receipts_in(accepted.json())[0]["destination"] == at_limit
    assert_refused(refused, 400, channel, limit)


@pytest.mark.parametrize("destination", ["rahul@example.com\n", "+14155550123\n"])
def test_a_trailing_newline_is_not_a_valid_destination_on_any_api(
    stack: Stack, client: EventApiClient, bulk_client: BulkApiClient, profiles: ProfilesApi, destination: str
) -> None:
    channel = "email" if "@" in destination else "sms"
    event = {
        "event": "OrderConfirmed",
        "to": {channel: destination},
        "data": {"name": "R", "order_id": "1", "amount": "1"},
    }
    assert client.post(event).status == 400
    assert bulk_client.post({"event": "OrderConfirmed", "batch": [{"to": {channel: destination}}]}).status == 400
    assert profiles.create({"distinct_id": "nl", "channel": {channel: destination}}).status == 400


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        # A NUL: the suffix passes the allowlist, but the C resolver would look up `attacker.example`.
        ("https://attacker.example\u0000.webhook.office.com/webhookb2/x", "letters, digits and hyphens"),
        ("https://" + "a" * 64 + ".webhook.office.com/webhookb2/x", "labels of 1 to 63"),
        ("https://x.webhook.office.com/webhookb2/caf\u00e9", "printable ASCII"),
        ("https://x.webhook.office.com/webhookb2/a b", "printable ASCII"),
        ("https://x.webhook.office.com:99999/webhookb2/x", "well-formed"),
        ("http://x.webhook.office.com/webhookb2/x", "https"),
    ],
)
def test_malformed_webhook_urls_are_refused_at_the_door(
    stack: Stack, client: EventApiClient, profiles: ProfilesApi, url: str, reason: str
) -> None:
    put_event_definition(
        stack.workspaces[0].workspace,
        EventDefinition.model_validate({"name": "Teams", "channels": {"teams": {"body": "hi"}}}),
    )
    refused = client.post({"event": "Teams", "to": {"teams": url}}, key=f"teams-{len(url)}-{reason}")

    assert refused.status == 400
    assert reason in refused.json()["errors"][0]["message"]
    assert stack.idempotency_items() == [] and stack.queued_messages() == []
    assert profiles.create({"distinct_id": "t", "channel": {"teams": url}}).status == 400


def test_a_nul_in_a_queued_webhook_host_is_refused_before_any_lookup() -> None:
    from notify.logic.providers.webhooks import WEBHOOK_RULES, WebhookRefused, check_url
    from notify.models.channels import Channel

    looked_up: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return ["52.96.0.1"]

    with pytest.raises(WebhookRefused, match="letters, digits and hyphens"):
        check_url(
            "https://attacker.example\u0000.webhook.office.com/webhookb2/x", WEBHOOK_RULES[Channel.teams], resolver
        )
    assert looked_up == []


def test_a_1000_item_bulk_at_the_longest_email_is_accepted_stored_and_replayed(
    stack: Stack, bulk_client: BulkApiClient, status: StatusApiClient
) -> None:
    # Issue 18, case 4: 6000-character domains made a manifest group past 400 KB; now the address is bounded.
    batch = [{"to": {"email": f"{n:04d}" + email_of(MAX_EMAIL_CHARACTERS)[4:]}} for n in range(1000)]
    for item in batch:
        item["data"] = {"name": "R"}
    body = {"event": "Welcome_Email", "batch": batch}

    accepted = bulk_client.post(body, key="longest-emails")
    replayed = bulk_client.post(body, key="longest-emails")

    assert accepted.status == 202, accepted.body[:500]
    assert (replayed.status, replayed.body) == (202, accepted.body)
    assert len(stack.queued_messages()) == 1000
    last = accepted.json()["response"][-1]
    assert status.get(last["request_id"]).status == 200


def test_a_bulk_with_email_domains_past_the_limit_is_refused_not_lost(stack: Stack, bulk_client: BulkApiClient) -> None:
    batch = [{"to": {"email": f"u{n}@" + "d" * 6000 + ".com"}, "data": {"name": "R"}} for n in range(100)]
    refused = bulk_client.post({"event": "Welcome_Email", "batch": batch}, key="long-domains")

    assert refused.status == 400
    assert len(refused.json()["errors"]) == 100
    assert stack.idempotency_items() == []


# Profiles: destinations resolved inside the claim --------------------------------------------------------------


def add_profiles(workspace: str, count: int, **channel: Any) -> None:
    for n in range(count):
        create_profile(
            workspace,
            Profile.model_validate(
                {
                    "distinct_id": f"user-{n:04d}",
                    "channel": {name: value(n) if callable(value) else value for name, value in channel.items()},
                    "created_at": NOW,
                    "updated_at": NOW,
                    "version": "live",
                }
            ),
        )


def test_a_keyed_bulk_whose_profiles_give_long_destinations_is_accepted_and_replayed(
    stack: Stack, bulk_client: BulkApiClient
) -> None:
    # Issue 18, case 3: 300 profiles with 2 KB destinations made the recorded destinations pass 400 KB: every
    # try was a 503 for good. They are spilled into parts now, as large answers are.
    workspace = stack.workspaces[0].workspace
    put_event_definition(
        workspace, EventDefinition.model_validate({"name": "Discord", "channels": {"discord": {"body": "hi"}}})
    )

    def url(n: int) -> str:
        # Distinct and varied (base64 of digests: 6 bits a character), so compression does not hide the size.
        tail = "".join(
            base64.urlsafe_b64encode(hashlib.sha256(f"{n}:{i}".encode()).digest()).decode().rstrip("=")
            for i in range(50)
        )
        return ("https://discord.com/api/webhooks/1/" + tail)[:2000]

    add_profiles(workspace, 300, discord=url)
    body = {"event": "Discord", "batch": [{"distinct_id": f"user-{n:04d}"} for n in range(300)]}

    accepted = bulk_client.post(body, key="long-profiles")
    replayed = bulk_client.post(body, key="long-profiles")

    assert accepted.status == 202, accepted.body[:300]
    assert (replayed.status, replayed.body) == (202, accepted.body)
    assert [item["discord"]["destination"] for item in accepted.json()["response"]] == [url(n) for n in range(300)]
    assert len(stack.queued_messages()) == 300


def test_a_keyed_bulk_whose_answer_would_pass_its_limit_is_413_and_stores_nothing(
    stack: Stack, bulk_client: BulkApiClient
) -> None:
    from notify.models.limits import MAX_ANSWER_BYTES

    workspace = stack.workspaces[0].workspace
    channels = ("discord", "teams", "slack")
    put_event_definition(
        workspace,
        EventDefinition.model_validate({"name": "Chat", "channels": {c: {"body": "hi"} for c in channels}}),
    )
    longest = {
        "discord": "https://discord.com/api/webhooks/1/" + "d" * (MAX_URL_CHARACTERS - 35),
        "teams": "https://x.webhook.office.com/webhookb2/" + "t" * (MAX_URL_CHARACTERS - 39),
        "slack": "https://hooks.slack.com/services/" + "s" * (MAX_URL_CHARACTERS - 33),
    }
    add_profiles(workspace, 1, **longest)
    body = {"event": "Chat", "batch": [{"distinct_id": "user-0000"} for _ in range(1000)]}

    refused = bulk_client.post(body, key="answer-too-big")

    assert_refused(refused, 413, "answer", MAX_ANSWER_BYTES)
    assert stack.queued_messages() == []
    assert [item for item in stack.idempotency_items() if "#dest" not in item["id"]["S"]] == []


def test_manifests_too_large_for_the_completions_transaction_are_written_on_their_own(stack: Stack) -> None:
    # DynamoDB refuses a TransactWriteItems past 4 MB (moto does not check it): kept-back manifests stay below.
    from notify.dal import delivery_log

    big = {
        "request_id": {"S": "r"},
        "msg_id": {"S": "m"},
        "blob": {"B": b"x" * (delivery_log.MAX_DEFERRED_BYTES * 2 // 5)},
    }
    second = {**big, "msg_id": {"S": "n"}}
    kept = delivery_log.KeptManifests()
    assert kept.keep([big], replace=False) is True
    assert kept.keep([second], replace=False) is True
    third = {**big, "msg_id": {"S": "o"}}
    assert kept.keep([third], replace=False) is False
    assert len(kept.puts()) == 2
