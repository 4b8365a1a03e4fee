"""Limits at the door, over HTTP, on AWS's DynamoDB Local (docs/contract.md section 7, L1 and L2).

moto enforces DynamoDB's 400 KB item only roughly, and neither its key nor its 4 MB transaction limit;
DynamoDB Local enforces all three. The local stack runs on it here (LOCAL_DYNAMODB=dynamodb-local), with SQS,
SES and SNS on moto and the real senders, and every request goes through the HTTP API a client uses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from notify.models.limits import (
    MAX_BODY_BYTES,
    MAX_DATA_BYTES,
    MAX_EMAIL_CHARACTERS,
    MAX_TOKEN_CHARACTERS,
    MAX_URL_CHARACTERS,
)
from tests.support.local_stack import (
    WORKSPACE_1,
    LocalStackProcess,
    emails_to,
    headers,
    on_dynamodb_local,
    status_of,
    wait_for,
)

pytestmark = pytest.mark.stress
REGION = "us-east-1"


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[LocalStackProcess, Any]]:
    # Its senders may still be delivering the bulks below (3,000 notifications) when it is asked to stop.
    with on_dynamodb_local(stop_timeout=180) as (started, endpoint):
        yield started, boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)


def post(stack: LocalStackProcess, route: str, body: Any, key: str | None = None) -> Any:
    raw = body if isinstance(body, str) else json.dumps(body)
    return stack.request("POST", f"/v1/{WORKSPACE_1}/live/{route}", raw, headers(key))


def records(dynamodb: Any, prefix: str) -> list[dict[str, Any]]:
    items = dynamodb.scan(TableName="IdempotencyTable", ConsistentRead=True)["Items"]
    return [item for item in items if item["id"]["S"].startswith(prefix)]


def longest_email(n: int) -> str:
    local = f"{n:04d}" + "l" * 60
    domain = ".".join(["d" * 63, "e" * 63, "f" * 57]) + ".com"
    address = f"{local}@{domain}"
    assert len(address) == MAX_EMAIL_CHARACTERS
    return address


def test_L1_a_2_mb_body_is_a_4xx_that_stores_nothing(stack: tuple[LocalStackProcess, Any]) -> None:
    local, dynamodb = stack
    body = {"event": "Welcome_Email", "to": {"email": "big@example.com"}, "data": {"name": "R", "pad": "x" * 2_000_000}}
    past_body = {**body, "data": {"name": "R", "pad": "x" * MAX_BODY_BYTES}}

    refused = post(local, "event", body, key="two-mb")
    too_big = post(local, "event", past_body, key="two-mb")

    assert refused.status == 400 and str(MAX_DATA_BYTES) in refused.text
    assert too_big.status == 413 and str(MAX_BODY_BYTES) in too_big.text
    assert records(dynamodb, "event#") == []
    fixed = post(local, "event", {**body, "data": {"name": "R"}}, key="two-mb")
    assert fixed.status == 202 and "idempotency-replayed" not in fixed.headers


def test_L2_data_of_100_kb_is_delivered_end_to_end(stack: tuple[LocalStackProcess, Any]) -> None:
    local, _ = stack
    data = {"name": "Rahul", "pad": "é" * 50_000}  # 100 KB in UTF-8
    assert len(json.dumps(data, ensure_ascii=False).encode()) > 100_000

    accepted = post(local, "event", {"event": "Welcome_Email", "to": {"email": "big-data@example.com"}, "data": data})

    assert accepted.status == 202, accepted.text
    request_id = accepted.json()["request_id"]
    wait_for(lambda: emails_to(local, "big-data@example.com"), timeout=60, message="the 100 KB email")
    [shown] = status_of(local, request_id).json()["notifications"]
    assert shown["state"] == "sent"


def test_L2_a_1000_item_bulk_at_the_longest_email_is_stored_and_replayed(stack: tuple[LocalStackProcess, Any]) -> None:
    local, dynamodb = stack
    batch = [{"to": {"email": longest_email(n)}, "data": {"name": "R"}} for n in range(1000)]
    body = {"event": "Welcome_Email", "batch": batch}

    accepted = post(local, "event/bulk", body, key="longest-bulk")
    replayed = post(local, "event/bulk", body, key="longest-bulk")

    assert accepted.status == 202, accepted.text[:300]
    assert (replayed.status, replayed.body, replayed.headers["idempotency-replayed"]) == (202, accepted.body, "true")
    [record] = [r for r in records(dynamodb, "bulk#") if "#part" not in r["id"]["S"]]
    assert record["status"]["S"] == "COMPLETED"
    for item in (accepted.json()["response"][0], accepted.json()["response"][-1]):
        assert status_of(local, item["request_id"]).status == 200


def test_L2_a_profile_with_every_channel_at_its_longest_is_sent_by_distinct_id_in_a_keyed_1000_item_bulk(
    stack: tuple[LocalStackProcess, Any],
) -> None:
    local, _ = stack
    profile: dict[str, Any] = {
        "distinct_id": "longest-" + "p" * 500,
        "channel": {
            "email": longest_email(9999),
            "sms": "+123456789012345",
            "whatsapp": "+123456789012345",
            "voice": "+123456789012345",
            "slack": "https://hooks.slack.com/services/" + "s" * (MAX_URL_CHARACTERS - 33),
            "discord": "https://discord.com/api/webhooks/1/" + "d" * (MAX_URL_CHARACTERS - 35),
            "teams": "https://x.webhook.office.com/webhookb2/" + "t" * (MAX_URL_CHARACTERS - 39),
            "push": [{"token": f"{n:02d}" + "p" * (MAX_TOKEN_CHARACTERS - 2)} for n in range(50)],
            "inapp": [{"token": f"{n:02d}" + "i" * (MAX_TOKEN_CHARACTERS - 2)} for n in range(50)],
        },
    }
    created = post(local, "profiles", profile)
    assert created.status == 201, created.text
    batch = [
        {"distinct_id": profile["distinct_id"], "data": {"name": "R", "order_id": str(n), "amount": "1"}}
        for n in range(1000)
    ]
    body = {"event": "OrderConfirmed", "batch": batch}

    accepted = post(local, "event/bulk", body, key="longest-profile")
    replayed = post(local, "event/bulk", body, key="longest-profile")

    assert accepted.status == 202, accepted.text[:300]
    assert (replayed.status, replayed.body) == (202, accepted.body)
    first = accepted.json()["response"][0]
    assert first["email"]["destination"] == profile["channel"]["email"]
    assert first["sms"]["destination"] == profile["channel"]["sms"]
    assert status_of(local, accepted.json()["response"][-1]["request_id"]).status == 200
