"""The sender's delivery log writes (issue 25): a notification's first attempt creates its item with one put, and
its outcome replaces that item whole while nothing else wrote it; either way the item is what the updates make."""

from __future__ import annotations

import uuid
from typing import Any

from notify.dal.clients import client
from notify.dal.delivery_log import count_attempt, record_attempt, record_outcome, record_provider_event
from notify.models.delivery import DeliveryState
from notify.settings import get_settings
from tests.support.stack import Stack

NOW = "2026-01-01T00:00:00.000Z"
LATER = "2026-01-01T00:00:05.000Z"
MESSAGE = '{"msg_id": "m"}'


def item(request_id: str, msg_id: str) -> dict[str, Any]:
    found: dict[str, Any] = client("dynamodb").get_item(
        TableName=get_settings().delivery_log_table,
        Key={"request_id": {"S": request_id}, "msg_id": {"S": msg_id}},
        ConsistentRead=True,
    )["Item"]
    return {name: value for name, value in found.items() if name not in ("request_id", "msg_id")}


def attempt(request_id: str, msg_id: str) -> Any:
    return count_attempt(
        request_id, msg_id, channel="email", destination="a***@example.com", now=NOW, expires_at=2**31, message=MESSAGE
    )


def outcome(request_id: str, msg_id: str, created: dict[str, Any] | None, **fields: Any) -> bool:
    return record_outcome(request_id, msg_id, updated_at=LATER, created=created, **fields)


def test_the_first_attempt_creates_the_item_and_a_later_one_counts(stack: Stack) -> None:
    request_id = str(uuid.uuid4())

    first = attempt(request_id, "m")
    again = attempt(request_id, "m")

    assert (first.number, again.number) == (1, 2)
    assert first.created is not None and again.created is None
    stored = item(request_id, "m")
    assert stored["attempts"] == {"N": "2"} and stored["state"] == {"S": "queued"}
    assert stored["message"] == {"S": MESSAGE}


def test_an_outcome_over_the_created_item_is_what_the_update_makes(stack: Stack) -> None:
    request_id = str(uuid.uuid4())
    cases = [
        {"state": DeliveryState.sent, "provider": "ses", "provider_message_id": "p-1"},
        {"state": DeliveryState.failed, "provider": "ses", "reason": "refused"},
        {"state": DeliveryState.unknown, "reason": "timed out"},
        {"state": DeliveryState.skipped, "reason": "suppressed"},
    ]
    for number, fields in enumerate(cases):
        replaced, updated = f"put-{number}", f"update-{number}"
        assert outcome(request_id, replaced, attempt(request_id, replaced).created, **fields)
        attempt(request_id, updated)
        assert outcome(request_id, updated, None, **fields)

        assert item(request_id, replaced) == item(request_id, updated)


def test_a_provider_event_between_the_attempt_and_the_outcome_is_kept(stack: Stack) -> None:
    """SES's delivery event can arrive before the sender records `sent`: the outcome neither replaces the item nor
    moves it back, exactly as the update alone refused to."""
    request_id = str(uuid.uuid4())
    created = attempt(request_id, "m").created
    record_provider_event(request_id, "m", state=DeliveryState.delivered, reason=None, updated_at=NOW)

    assert not outcome(request_id, "m", created, state=DeliveryState.sent, provider="ses", provider_message_id="p")

    stored = item(request_id, "m")
    assert stored["state"] == {"S": "delivered"} and stored["provider_states"] == {"SS": ["delivered"]}


def test_another_attempt_between_makes_the_outcome_an_update(stack: Stack) -> None:
    """Another copy counted an attempt meanwhile (its claim expired: the final receive's `unknown`): the outcome
    updates, keeping the count."""
    request_id = str(uuid.uuid4())
    created = attempt(request_id, "m").created
    record_attempt(request_id, "m", channel="email", destination="a***@example.com", now=NOW, expires_at=2**31)

    assert outcome(request_id, "m", created, state=DeliveryState.sent, provider="ses", provider_message_id="p")

    stored = item(request_id, "m")
    assert stored["attempts"] == {"N": "2"} and stored["state"] == {"S": "sent"}
    assert stored["message"] == {"S": MESSAGE}
