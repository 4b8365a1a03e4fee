"""Cancellable automation runs (C1-C6): what a trigger with a `Cancellation-Key` records, and the cancel's writes.

A run's steps are indexed in the delivery log table under a partition of their own, named by the hash of
(workspace, version, automation, cancellation key): one item per step, sorted by `<request_id>#<step>`, so a
cancel finds every step of every run with that key in one Query. The status route never reads these
partitions (its keys are request ids, UUIDs).

A cancel decides each step with one TransactWriteItems: for each of its notifications, one conditional update of
its delivery item, which is the sender's guard for the msg_id (notify.dal.delivery_log.claim_delivery): `cancelled`
and the guard `done`, on the condition that no sender claimed it and nothing final was recorded (no item yet, or
one released: nothing sent). The sender's claim is a conditional write on the same item, so the two cannot both
win: either the cancel wrote first, and every copy of the message finds it done and `cancelled` (notify.logic.sender
sends nothing and reports nothing), or a sender's claim (or an earlier sender's item) exists first and the cancel is
refused.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from notify.dal.clients import client
from notify.dal.delivery_log import DONE, GUARD_ATTR, RELEASED, KeptManifests
from notify.models.delivery import DeliveryState
from notify.settings import get_settings

PARTITION_PREFIX = "cancel#"
CANCELLED_REASON = "cancelled by the automation's cancel route"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False).encode()).hexdigest()


def partition(workspace: str, version: str, automation_id: str, cancellation_key: str) -> str:
    """The index partition of a key's runs: another workspace, version or automation names another one (C5)."""
    return PARTITION_PREFIX + _digest([workspace, version, automation_id, cancellation_key])


def recipient_digest(identity: str) -> str:
    """A recipient as the index keeps it: hashed, so the delivery log holds no address in full."""
    return _digest(identity.strip().lower())


@dataclass(frozen=True)
class CancellableStep:
    """One step of one run: its notifications and how long the sender's guards must live."""

    request_id: str
    step: int
    notifications: tuple[tuple[str, str, str], ...]  # (msg_id, channel, masked destination), as the status route shows
    recipients: tuple[str, ...]  # recipient_digest of each email and distinct_id the step goes to
    guard_expires_at: int
    # The step's callback object as JSON (at most MAX_CALLBACK_BYTES), so the cancel can report `cancelled`.
    callback: str | None = None

    @property
    def msg_ids(self) -> tuple[str, ...]:
        return tuple(msg_id for msg_id, _, _ in self.notifications)


def step_item(partition_key: str, step: CancellableStep) -> dict[str, Any]:
    """The index item of a step, written with the run's request record (its kept manifests, for a keyed run)."""
    item = {
        "request_id": partition_key,
        "msg_id": f"{step.request_id}#{step.step:04d}",
        "run_request_id": step.request_id,
        "step": step.step,
        "notifications": [list(notification) for notification in step.notifications],
        "recipients": list(step.recipients),
        "guard_expires_at": step.guard_expires_at,
        "expires_at": step.guard_expires_at,
    }
    if step.callback is not None:
        item["callback"] = step.callback
    return {name: _serializer.serialize(value) for name, value in item.items()}


def remember_steps(items: list[dict[str, Any]], kept: KeptManifests | None) -> None:
    """Index a run's steps with its request record: kept back for a keyed run's completion transaction (a run
    that never completes leaves no index), else written now, before anything is queued."""
    if not items or (kept is not None and kept.keep(items, replace=False)):
        return
    ddb = client("dynamodb")
    for item in items:
        ddb.put_item(TableName=get_settings().delivery_log_table, Item=item)


def steps_of(partition_key: str, table: str | None = None) -> list[CancellableStep]:
    """Every step of every run recorded under the partition: one Query (more pages only past 1 MB)."""
    ddb = client("dynamodb")
    steps: list[CancellableStep] = []
    request: dict[str, Any] = {
        "TableName": table or get_settings().delivery_log_table,
        "KeyConditionExpression": "request_id = :partition",
        "ExpressionAttributeValues": {":partition": {"S": partition_key}},
        "ConsistentRead": True,
    }
    while True:
        page = ddb.query(**request)
        for raw in page.get("Items", []):
            item = {name: _deserializer.deserialize(value) for name, value in raw.items()}
            steps.append(
                CancellableStep(
                    request_id=str(item["run_request_id"]),
                    step=int(item["step"]),
                    notifications=tuple((str(m), str(c), str(d)) for m, c, d in item["notifications"]),
                    recipients=tuple(item["recipients"]),
                    guard_expires_at=int(item["guard_expires_at"]),
                    callback=str(item["callback"]) if "callback" in item else None,
                )
            )
        if "LastEvaluatedKey" not in page:
            return steps
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def cancel_notifications(step: CancellableStep, msg_ids: list[str], now: str) -> tuple[list[str], list[str]]:
    """Cancel `msg_ids` of `step` where no sender claimed them: (cancelled, claimed by a sender first).

    One TransactWriteItems for the step; a notification whose item refused is left out and the rest tried again
    (a step has one notification per channel, so at most a few calls in the rarest race)."""
    settings = get_settings()
    ddb = client("dynamodb")
    pending, claimed = list(msg_ids), []
    # The item is the guard: it lives at least as long as the guard must (R8), and the delivery log's retention.
    expires_at = max(step.guard_expires_at, int(time.time()) + settings.delivery_log_retention_days * 86400)
    while pending:
        items: list[dict[str, Any]] = []
        shown = {msg_id: (channel, destination) for msg_id, channel, destination in step.notifications}
        for msg_id in pending:
            items.append(
                {
                    "Update": {
                        "TableName": settings.delivery_log_table,
                        "Key": {"request_id": {"S": step.request_id}, "msg_id": {"S": msg_id}},
                        # The record the sender would have made first: its channel and destination, if absent.
                        "UpdateExpression": f"SET #state = :state, updated_at = :now, reason = :reason, "
                        f"{GUARD_ATTR} = :done, expires_at = if_not_exists(expires_at, :expires), "
                        "channel = if_not_exists(channel, :channel), destination = if_not_exists(destination, :to)",
                        # No claim and no final outcome: no item yet, or one a sender released (nothing sent).
                        "ConditionExpression": f"attribute_not_exists(msg_id) OR {GUARD_ATTR} = :released",
                        "ExpressionAttributeNames": {"#state": "state"},
                        "ExpressionAttributeValues": {
                            ":state": {"S": DeliveryState.cancelled.value},
                            ":now": {"S": now},
                            ":reason": {"S": CANCELLED_REASON},
                            ":done": {"S": DONE},
                            ":released": {"S": RELEASED},
                            ":expires": {"N": str(expires_at)},
                            ":channel": {"S": shown[msg_id][0]},
                            ":to": {"S": shown[msg_id][1]},
                        },
                    }
                }
            )
        try:
            ddb.transact_write_items(TransactItems=items)
        except ClientError as exc:
            lost = _claims_found(exc, pending)
            if not lost:
                raise
            claimed.extend(lost)
            pending = [msg_id for msg_id in pending if msg_id not in lost]
            continue
        return pending, claimed
    return [], claimed


def _claims_found(error: ClientError, pending: list[str]) -> list[str]:
    """The msg_ids whose item refused the cancel (a sender claimed them), from a cancelled transaction."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return []
    reasons = error.response.get("CancellationReasons") or []
    return [
        msg_id
        for index, msg_id in enumerate(pending)
        if index < len(reasons) and reasons[index].get("Code") == "ConditionalCheckFailed"
    ]
