"""Stress: 50 idempotency keys x 20 concurrent duplicates over HTTP, on an atomic DynamoDB (R4, R6, R8).

The local stack runs with AWS's DynamoDB Local (LOCAL_DYNAMODB=dynamodb-local), so the claim's
conditional write is DynamoDB's own, not moto's emulation of it; SQS, SES and SNS stay on moto and
the SQS event source runs the real senders. Half the keys use the stack's default expiry, set to a
few seconds for this run only (LOCAL_PARAMETER_OVERRIDES), and expire between the two waves of
duplicates, so each wave is a new lifetime of the key: it executes once more, with new ids, and is sent
once more (R6); the other half send x-idempotency-expiration two days ahead. Within one lifetime of a
key, whatever executes, exactly one email must leave through SES.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from tests.support.local_stack import LocalStackProcess, on_dynamodb_local, wait_for

pytestmark = pytest.mark.stress

KEYS = 50
DUPLICATES_PER_WAVE = 10  # two waves: 20 duplicates per key
CLIENT_THREADS = 16
# The stack's default record lifetime for this run: long enough for a wave, short enough to pass between waves.
SHORT_EXPIRY_SECONDS = 4
EXPIRY_WAIT_LIMIT_SECONDS = SHORT_EXPIRY_SECONDS + 30
DRAIN_TIMEOUT_SECONDS = 60
WORKSPACE, API_KEY = "WSLOCAL0001", "local-key-0001-aaaaaaaaaaaaaaaaaaaa"
REGION = "us-east-1"


@dataclass(frozen=True)
class Answer:
    key: int
    wave: int
    status: int
    replayed: bool
    request_id: str | None


@pytest.fixture(scope="module")
def atomic_stack() -> Iterator[tuple[LocalStackProcess, str]]:
    with on_dynamodb_local(LOCAL_PARAMETER_OVERRIDES=f"IdempotencyExpirySeconds={SHORT_EXPIRY_SECONDS}") as started:
        yield started


def recipient(key: int) -> str:
    return f"storm-{key:02d}@example.com"


def expires_in_two_days() -> str:
    return str(int((datetime.now(UTC) + timedelta(days=2)).timestamp() * 1000))


def post(stack: LocalStackProcess, key: int, wave: int, run: str) -> Answer:
    headers = {
        "Authorization": f"Bearer {API_KEY}",
        "Content-Type": "application/json",
        "Idempotency-Key": f"{run}-{key}",
    }
    if key % 2 == 1:  # odd keys outlive the run
        headers["x-idempotency-expiration"] = expires_in_two_days()
    body = {"event": "Welcome_Email", "to": {"email": recipient(key)}, "data": {"name": f"Storm {key}"}}
    result = stack.request("POST", f"/v1/{WORKSPACE}/live/event", json.dumps(body), headers)
    request_id = result.json().get("request_id") if result.status == 202 else None
    return Answer(key, wave, result.status, result.headers.get("idempotency-replayed") == "true", request_id)


def wave(stack: LocalStackProcess, number: int, run: str) -> list[Answer]:
    """Every key DUPLICATES_PER_WAVE times, shuffled, from a bounded pool of client threads."""
    calls = [key for key in range(KEYS) for _ in range(DUPLICATES_PER_WAVE)]
    random.Random(number).shuffle(calls)
    with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
        return list(pool.map(lambda key: post(stack, key, number, run), calls))


def wait_until_short_keys_expired(dynamodb_url: str) -> None:
    """Until the clock passes every record of the default (short) expiry, as read from DynamoDB Local."""
    dynamodb = boto3.client("dynamodb", endpoint_url=dynamodb_url, region_name=REGION)
    items = dynamodb.scan(TableName="IdempotencyTable", ConsistentRead=True)["Items"]
    # The Event API's records (the senders keep theirs, `send#...`, for at least an hour) of the short keys.
    expirations = [int(item["expiration"]["N"]) for item in items if item["id"]["S"].startswith("event#")]
    short = [expiration for expiration in expirations if expiration < time.time() + 3600]
    assert short, "the keys with the default expiry left records"
    # Expiry is in whole seconds and a record is live through its expiry second (the claim's condition is
    # `expiration < now` in whole seconds, Powertools' is_expired the same): wait until that second has passed.
    wait_for(lambda: time.time() >= max(short) + 1, timeout=EXPIRY_WAIT_LIMIT_SECONDS, message="short keys to expire")


def queue_drained(stack: LocalStackProcess) -> bool:
    sqs = stack.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=stack.queue_url("NotificationQueue"),
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return all(int(value) == 0 for value in attributes.values())


def ses_deliveries(stack: LocalStackProcess) -> int:
    points = stack.client("ses").get_send_statistics()["SendDataPoints"]
    return sum(int(point["DeliveryAttempts"]) for point in points)


def test_R8_fifty_keys_twenty_duplicates_each_with_expiry_mid_run_deliver_once_per_key_lifetime(
    atomic_stack: tuple[LocalStackProcess, str], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, dynamodb_url = atomic_stack
    run = f"storm-{int(time.time())}"
    started = time.monotonic()

    answers = wave(stack, 1, run)
    first_wave_done = time.monotonic()
    wait_until_short_keys_expired(dynamodb_url)
    second_wave_started = time.monotonic()
    answers += wave(stack, 2, run)
    second_wave_done = time.monotonic()
    wait_for(lambda: queue_drained(stack), timeout=DRAIN_TIMEOUT_SECONDS, message="the notification queue to drain")
    drained = time.monotonic()
    deliveries = ses_deliveries(stack)
    sending_seconds = (first_wave_done - started) + (second_wave_done - second_wave_started)

    statuses = Counter(
        "202 replayed" if a.replayed else ("202 executed" if a.status == 202 else str(a.status)) for a in answers
    )
    with capsys.disabled():
        print(
            f"\nstress: {len(answers)} requests ({KEYS} keys x {2 * DUPLICATES_PER_WAVE} duplicates, "
            f"{CLIENT_THREADS} client threads, DynamoDB Local); statuses {dict(sorted(statuses.items()))}; "
            f"waves {first_wave_done - started:.1f} s + {second_wave_done - second_wave_started:.1f} s "
            f"({len(answers) / sending_seconds:.0f} requests/s), "
            f"expiry wait {second_wave_started - first_wave_done:.1f} s, "
            f"queue drained {drained - second_wave_done:.1f} s after the last request; SES deliveries {deliveries}"
        )

    assert len(answers) == KEYS * 2 * DUPLICATES_PER_WAVE
    # 202 (executed or replayed) or 409 while a duplicate holds the key: never a 5xx, never a 400.
    assert set(statuses) <= {"202 executed", "202 replayed", "409"}
    executions: dict[int, list[Answer]] = defaultdict(list)
    for answer in answers:
        if answer.status == 202 and not answer.replayed:
            executions[answer.key].append(answer)
    for key in range(KEYS):
        runs = executions[key]
        accepted = [a for a in answers if a.key == key and a.status == 202]
        if key % 2 == 1:
            assert len(runs) == 1, f"key {key} (2-day expiry) executed {len(runs)} times"
        else:  # expired between the waves: one execution per lifetime, each with its own ids (R6, R8)
            assert {a.wave for a in runs} == {1, 2}, f"key {key} (short expiry) executions: {runs}"
        assert len({a.request_id for a in runs}) == len(runs)
        assert {a.request_id for a in accepted} == {a.request_id for a in runs}
    # One email per lifetime of each key: whatever else ran, replayed or was refused sent nothing.
    assert deliveries == sum(len(runs) for runs in executions.values())
    assert stack.drain_queue("NotificationDLQ") == []
