"""Delivery log table: per request, a manifest item (sk "#request") and one item per notification (sk msg_id);
a bulk request's item manifests, 100 to a group item, in a partition of their own (`#bulk:<16 hex>`).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from notify.dal.clients import client, map_in_parallel
from notify.models.delivery import PROVIDER_TOOK, DeliveryRecord, DeliveryState, RequestManifest
from notify.settings import get_settings

BATCH_WRITE_LIMIT = 25
BATCH_WRITE_ATTEMPTS = 5
PARALLEL_CALLS = 16
MANIFEST_SK = "#request"  # sorts before every msg_id (a uuid), and can never be one

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _table(table: str | None) -> str:
    return table or get_settings().delivery_log_table


# TransactWriteItems holds at most 100 items: the idempotency record's completion and up to 99 manifest items.
MAX_DEFERRED_ITEMS = 99
# ... and at most 4 MB in all: the record's update takes up to 400 KB, so manifests past 3 MB are written on their
# own, before the completion (notify.models.limits: a request at its limits stays far below this).
MAX_DEFERRED_BYTES = 3 * 1024 * 1024
# A bulk request's item manifests, this many to a group item (zlib-compressed JSON, far below 400 KB even
# with every channel and the longest masked addresses): 1000 items are 10 items to write.
MANIFESTS_PER_GROUP = 100
GROUP_PREFIX = "#bulk:"  # request_id of a group partition: never a uuid
GROUP_SK_PREFIX = "#items:"
GROUP_ATTR = "manifests_zlib"


class KeptManifests:
    """The manifest items of one keyed request, by key, kept back to be written in one transaction with its
    idempotency record's completion (notify.dal.idempotency_store.Claim carries them there): the request makes no
    write of its own for them."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def keep(self, items: list[dict[str, Any]], *, replace: bool) -> bool:
        """Keep `items` back if they fit the completion's transaction; a replacement (the "not queued" marking) of
        items kept back replaces them here, at no cost. False: the caller writes them now."""
        keys = [_key(item) for item in items]
        if replace:
            if not all(key in self.items for key in keys):
                return False
        elif len(self.items.keys() | set(keys)) > MAX_DEFERRED_ITEMS or _bytes(self.items, items) > MAX_DEFERRED_BYTES:
            return False
        self.items.update(zip(keys, items, strict=True))
        return True

    def puts(self, table: str | None = None) -> list[dict[str, Any]]:
        """The items as TransactWriteItems `Put` entries (overwriting: a re-execution of the request, R8, records
        what it queued itself)."""
        return [{"Put": {"TableName": _table(table), "Item": item}} for item in self.items.values()]

    def write(self) -> None:
        """Write them on their own: the completion that would have carried them failed, and the status route must
        still find a request whose answer the client gets. Kept until written: a failed write leaves them for
        another try (notify.logic.idempotency)."""
        if self.items:
            _write_now(list(self.items.values()), replace=True)
            self.items.clear()

    def clear(self) -> None:
        """The completion wrote them."""
        self.items.clear()


def _bytes(pending: dict[tuple[str, str], dict[str, Any]], items: list[dict[str, Any]]) -> int:
    """About what the kept-back items and `items` add to the completion's transaction (names and values)."""
    return sum(_size(item) for item in [*pending.values(), *items])


def _size(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, dict):
        return sum(len(key) + _size(item) for key, item in value.items())
    if isinstance(value, list):
        return sum(_size(item) for item in value)
    return 8


def _key(item: dict[str, Any]) -> tuple[str, str]:
    return item["request_id"]["S"], item["msg_id"]["S"]


def record_manifests(
    manifests: list[RequestManifest], *, replace: bool = False, kept: KeptManifests | None = None
) -> None:
    """Record requests' manifests: kept back for the completion of a keyed request (`kept`), else written now. A
    first write keeps an existing manifest of the same request (a re-execution, R8) unless `replace`."""
    items = [_manifest_item(manifest) for manifest in manifests]
    if kept is None or not kept.keep(items, replace=replace):
        _write_now(items, replace=replace)


def record_bulk_manifests(
    bulk_request_id: str,
    manifests: list[RequestManifest],
    *,
    replace: bool = False,
    kept: KeptManifests | None = None,
) -> None:
    """Record a bulk request's item manifests as a few group items under a partition every item's request id
    names (notify.logic.bulk.item_request_id keeps the bulk id's first 8 bytes): 1000 items are 10 items,
    which fit the completion's transaction (get_request finds an item's manifest there)."""
    items = [
        _group_item(bulk_request_id, number, manifests[start : start + MANIFESTS_PER_GROUP])
        for number, start in enumerate(range(0, len(manifests), MANIFESTS_PER_GROUP))
    ]
    if kept is None or not kept.keep(items, replace=replace):
        _write_now(items, replace=True)


def group_partition(request_id: str) -> str:
    """The group partition of a bulk item's request id (or of the bulk's own): its first 8 bytes."""
    return GROUP_PREFIX + uuid.UUID(request_id).hex[:16]


def _group_item(bulk_request_id: str, number: int, manifests: list[RequestManifest]) -> dict[str, Any]:
    body = json.dumps([manifest.model_dump(mode="json") for manifest in manifests], separators=(",", ":"))
    return {
        "request_id": {"S": group_partition(bulk_request_id)},
        "msg_id": {"S": f"{GROUP_SK_PREFIX}{bulk_request_id}:{number:04d}"},
        GROUP_ATTR: {"B": zlib.compress(body.encode(), 6)},
        "expires_at": {"N": str(max(manifest.expires_at for manifest in manifests))},
    }


def _write_now(items: list[dict[str, Any]], *, replace: bool) -> None:
    if len(items) == 1:
        _put(items[0], replace=replace)
    elif items:
        _put_many(items)


def _manifest_item(manifest: RequestManifest) -> dict[str, Any]:
    item = {"msg_id": MANIFEST_SK, **manifest.model_dump(mode="json")}
    return {name: _serializer.serialize(value) for name, value in item.items()}


def _put(item: dict[str, Any], table: str | None = None, *, replace: bool) -> None:
    ddb = client("dynamodb")
    condition = {} if replace else {"ConditionExpression": "attribute_not_exists(request_id)"}
    with contextlib.suppress(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(TableName=_table(table), Item=item, **condition)


def _put_many(items: list[dict[str, Any]], table: str | None = None) -> None:
    requests = [{"PutRequest": {"Item": item}} for item in items]
    chunks = [requests[start : start + BATCH_WRITE_LIMIT] for start in range(0, len(requests), BATCH_WRITE_LIMIT)]
    map_in_parallel(lambda chunk: _batch_write(_table(table), chunk), chunks, PARALLEL_CALLS)


def _batch_write(table: str, chunk: list[dict[str, Any]]) -> None:
    ddb = client("dynamodb")
    pending = chunk
    for attempt in range(BATCH_WRITE_ATTEMPTS):
        unprocessed = ddb.batch_write_item(RequestItems={table: pending}).get("UnprocessedItems", {})
        pending = unprocessed.get(table, [])
        if not pending:
            return
        time.sleep(0.05 * 2**attempt)
    raise RuntimeError(f"{len(pending)} request manifest(s) were not written")


def get_request(request_id: str, table: str | None = None) -> tuple[RequestManifest | None, list[DeliveryRecord]]:
    """The request's manifest (None when unknown) and every notification item the senders wrote."""
    items = [
        {name: _deserializer.deserialize(value) for name, value in raw.items()}
        for raw in _partition_items(request_id, table)
    ]
    manifest = next((RequestManifest.model_validate(i) for i in items if i["msg_id"] == MANIFEST_SK), None)
    records = [DeliveryRecord.model_validate(i) for i in items if i["msg_id"] != MANIFEST_SK]
    if manifest is None:
        manifest = _bulk_item_manifest(request_id, table)
    return manifest, records


def _bulk_item_manifest(request_id: str, table: str | None) -> RequestManifest | None:
    """A bulk item's manifest, from the group items of the partition its request id names (None if none)."""
    try:
        partition = group_partition(request_id)
    except ValueError:
        return None
    for raw in _partition_items(partition, table):
        if GROUP_ATTR not in raw:
            continue
        for found in json.loads(zlib.decompress(bytes(raw[GROUP_ATTR]["B"]))):
            if found["request_id"] == request_id:
                return RequestManifest.model_validate(found)
    return None


def _partition_items(partition: str, table: str | None) -> Iterator[dict[str, Any]]:
    """Every item (raw) under one request_id, page after page, read consistently."""
    arguments: dict[str, Any] = {
        "TableName": _table(table),
        "KeyConditionExpression": "request_id = :id",
        "ExpressionAttributeValues": {":id": {"S": partition}},
        "ConsistentRead": True,
    }
    while True:
        page = client("dynamodb").query(**arguments)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class Attempt(NamedTuple):
    """An attempt counted: its number, and the item as it wrote it when it created the item (None otherwise)."""

    number: int
    created: dict[str, Any] | None


# The msg_id's guard (R8) is the notification's item itself: `guard` says where its delivery stands, `claim` names
# the delivery that holds it (a token of its own, so a release never frees another sender's claim).
GUARD_ATTR = "guard"
CLAIM_ATTR = "claim"
HELD = "held"  # a delivery is in progress (it may have reached the provider)
RELEASED = "released"  # nothing was sent: the next copy may claim it (a transient failure, a dead letter, a redrive)
DONE = "done"  # a final outcome: every later copy ends there


@dataclass(frozen=True)
class _AttemptFields:
    """What every attempt writes to a notification's item: its channel, masked destination, time and expiry, and the
    queue message (kept for a redrive)."""

    channel: str
    destination: str
    now: str
    expires_at: int
    message: str | None

    def first(self, key: dict[str, Any]) -> dict[str, Any]:
        """The item a first attempt creates: `queued`, attempt 1."""
        return {
            **key,
            "channel": {"S": self.channel},
            "destination": {"S": self.destination},
            "updated_at": {"S": self.now},
            "expires_at": {"N": str(self.expires_at)},
            "state": {"S": DeliveryState.queued.value},
            "attempts": {"N": "1"},
            **({"message": {"S": self.message}} if self.message is not None else {}),
        }

    def later(self, expires_at: int) -> tuple[str, dict[str, Any]]:
        """The SET clauses (and their values) a later attempt writes, its expiry `expires_at`; the caller adds
        `ADD attempts :one` (`:one` is among the values) and `#state` names `state`."""
        values = {
            ":channel": {"S": self.channel},
            ":destination": {"S": self.destination},
            ":now": {"S": self.now},
            ":expires_at": {"N": str(expires_at)},
            ":queued": {"S": DeliveryState.queued.value},
            ":one": {"N": "1"},
        }
        clauses = (
            "channel = :channel, destination = :destination, updated_at = :now, expires_at = :expires_at, "
            "#state = if_not_exists(#state, :queued)"
        )
        if self.message is not None:
            values[":message"] = {"S": self.message}
            clauses += ", message = :message"
        return clauses, values


class Claimed(NamedTuple):
    """This delivery holds the msg_id's claim: its attempt (number, and the item when the claim created it)."""

    attempt: Attempt


class Refused(NamedTuple):
    """Another write holds the msg_id: the item as found (deserialized), a delivery in progress (`held`) or done."""

    item: dict[str, Any]
    held: bool


def claim_delivery(
    request_id: str,
    msg_id: str,
    *,
    token: str,
    channel: str,
    destination: str,
    now: str,
    expires_at: int,
    message: str | None = None,
    legacy_guard: Any = None,
    table: str | None = None,
) -> Claimed | Refused:
    """Claim a notification's delivery (R8): the first attempt's conditional put creates its item held by `token`
    (one write, the usual case); a refused put answers with the item that refused it (ALL_OLD). A released item is
    claimed with one conditional update (its attempt counted); a held or finished one is Refused.

    `legacy_guard(msg_id)` reads the guard a sender before this change kept in the idempotency table (None, or
    (status, outcome)): asked only for an item without `guard`, which only such a sender wrote."""
    ddb = client("dynamodb")
    key = {"request_id": {"S": request_id}, "msg_id": {"S": msg_id}}
    fields = _AttemptFields(channel, destination, now, expires_at, message)
    first = {**fields.first(key), GUARD_ATTR: {"S": HELD}, CLAIM_ATTR: {"S": token}}
    try:
        ddb.put_item(
            TableName=_table(table),
            Item=first,
            ConditionExpression="attribute_not_exists(msg_id)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ddb.exceptions.ConditionalCheckFailedException as exc:
        found = exc.response.get("Item") or _read(ddb, key, table)
    else:
        return Claimed(Attempt(1, first))
    for _ in range(3):
        if found is None:  # gone between the two calls (an expired item deleted by TTL): nothing holds it
            return claim_delivery(
                request_id, msg_id, token=token, channel=channel, destination=destination, now=now,
                expires_at=expires_at, message=message, legacy_guard=legacy_guard, table=table,
            )  # fmt: skip
        item = {name: _deserializer.deserialize(value) for name, value in found.items()}
        guard = item.get(GUARD_ATTR)
        if guard == HELD and item.get(CLAIM_ATTR) == token:
            # This delivery's own claim: its write was carried out, its answer lost, and botocore's retry refused by
            # what the first try wrote. It holds the claim (the token is this delivery's alone).
            return Claimed(Attempt(int(item.get("attempts", 1)), None))
        condition = f"{GUARD_ATTR} = :released"
        if guard is None:
            # Written before the guard moved here: the old sender's guard decides (notify.logic.sender).
            legacy = legacy_guard(msg_id) if legacy_guard is not None else None
            if legacy is not None:
                status, outcome = legacy
                if status != "COMPLETED" or not outcome or "state" not in outcome:
                    return Refused(item, held=True)  # in progress (or an outcome it cannot tell): never sent again
                return Refused({**item, **outcome, "legacy": True}, held=False)
            if item.get("state", DeliveryState.queued.value) not in (DeliveryState.queued.value, "failed"):
                return Refused(item, held=False)
            condition = f"attribute_not_exists({GUARD_ATTR}) AND #state = :state"
        elif guard != RELEASED:
            return Refused(item, held=guard == HELD)
        claimed = _claim_released(ddb, key, condition, item, token, fields, table)
        if claimed is not None:
            return Claimed(Attempt(claimed, None))
        found = _read(ddb, key, table)  # another copy claimed it first: what holds it now
    raise RuntimeError(f"the claim on {msg_id} kept changing")


def _read(ddb: Any, key: dict[str, Any], table: str | None) -> dict[str, Any] | None:
    return ddb.get_item(TableName=_table(table), Key=key, ConsistentRead=True).get("Item")


def _claim_released(
    ddb: Any,
    key: dict[str, Any],
    condition: str,
    item: dict[str, Any],
    token: str,
    fields: _AttemptFields,
    table: str | None,
) -> int | None:
    """Claim a released item with one conditional update counting the attempt; its number, None if another won."""
    clauses, values = fields.later(max(fields.expires_at, int(item.get("expires_at", 0))))
    values.update({":held": {"S": HELD}, ":token": {"S": token}})
    if GUARD_ATTR in item:
        values[":released"] = {"S": RELEASED}
    else:
        values[":state"] = {"S": str(item.get("state", DeliveryState.queued.value))}
    try:
        response = ddb.update_item(
            TableName=_table(table),
            Key=key,
            UpdateExpression=f"SET {clauses}, {GUARD_ATTR} = :held, {CLAIM_ATTR} = :token ADD attempts :one",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW",
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return None
    return int(response["Attributes"]["attempts"]["N"])


def count_attempt(
    request_id: str,
    msg_id: str,
    *,
    channel: str,
    destination: str,
    now: str,
    expires_at: int,
    message: str | None = None,
    table: str | None = None,
) -> Attempt:
    """Count one delivery attempt of a notification (creating its item as `queued`); `.number` is the attempt's.

    The sender before the guard moved into the item wrote this (claim_delivery now); kept for tools and tests that
    write an item as that sender did.

    `message` is the queue message itself (JSON), kept so an operator can redrive the notification; the
    table is encrypted and only the sender and the admin command read it (the status route never shows it).
    """
    ddb = client("dynamodb")
    key = {"request_id": {"S": request_id}, "msg_id": {"S": msg_id}}
    fields = _AttemptFields(channel, destination, now, expires_at, message)
    first = fields.first(key)
    # The first attempt, the usual case, creates the item: a put of what the update below would make of nothing.
    try:
        ddb.put_item(TableName=_table(table), Item=first, ConditionExpression="attribute_not_exists(msg_id)")
    except ddb.exceptions.ConditionalCheckFailedException:
        pass  # a later attempt, or an item a provider event or a cancel wrote first: counted below
    else:
        return Attempt(1, first)
    clauses, values = fields.later(expires_at)
    response = ddb.update_item(
        TableName=_table(table),
        Key=key,
        UpdateExpression=f"SET {clauses} ADD attempts :one",
        ExpressionAttributeNames={"#state": "state"},
        ExpressionAttributeValues=values,
        ReturnValues="UPDATED_NEW",
    )
    return Attempt(int(response["Attributes"]["attempts"]["N"]), None)


def record_outcome(
    request_id: str,
    msg_id: str,
    *,
    state: DeliveryState,
    updated_at: str,
    provider: str | None = None,
    provider_message_id: str | None = None,
    reason: str | None = None,
    table: str | None = None,
    created: dict[str, Any] | None = None,
    release: str | None = None,
    attempt: tuple[str, str, str | None, int] | None = None,
) -> bool:
    """Set a notification's state; never moves a notification the provider took (`sent`, or a provider event's state
    after it) to another state. False when it was taken (or, for a release, when another delivery holds it).

    The same write ends the msg_id's claim (R8): a final outcome leaves the guard `done`; `release` (the token of
    the claim this delivery held, or tried to take) leaves it `released` instead, for an outcome that sent nothing
    (a transient failure, a dead letter), so the next copy may claim it, and never frees another sender's claim.
    `attempt` (channel, masked destination, queue message, expiry) counts an attempt in the same write, for an
    outcome that may be the msg_id's first record.

    `created` is the item as this delivery's claim created it (Attempt.created): while nothing else has written it
    since (still `queued`, its first attempt, no provider event), the outcome replaces it whole, with what the
    update below would make of it; otherwise the update runs."""
    ddb = client("dynamodb")
    if (
        created is not None
        and release is None
        and _replace_created(ddb, created, state, updated_at, provider, provider_message_id, reason, table)
    ):
        return True
    taken = {f":taken{i}": state.value for i, state in enumerate(PROVIDER_TOOK)}
    values: dict[str, Any] = {":state": state.value, ":now": updated_at, **taken}
    names = {"#state": "state", "#guard": GUARD_ATTR, "#claim": CLAIM_ATTR}
    assignments = ["#state = :state", "updated_at = :now", "#guard = :guard"]
    removals = [] if release is not None else ["#claim"]
    for name, value in (("provider", provider), ("provider_message_id", provider_message_id), ("reason", reason)):
        if value is None:
            removals.append(name)
        else:
            assignments.append(f"{name} = :{name}")
            values[f":{name}"] = value
    if state is DeliveryState.sent:
        assignments.append("sent_at = :now")
    counted = ""
    if attempt is not None:
        channel, destination, message, expires_at = attempt
        assignments += [
            "channel = if_not_exists(channel, :channel)",
            "destination = if_not_exists(destination, :to)",
            "expires_at = if_not_exists(expires_at, :expires_at)",
        ]
        values.update({":channel": channel, ":to": destination, ":one": 1, ":expires_at": expires_at})
        if message is not None:
            assignments.append("message = if_not_exists(message, :message)")
            values[":message"] = message
        counted = " ADD attempts :one"
    condition = f"(attribute_not_exists(#state) OR NOT (#state IN ({', '.join(taken)})))"
    if release is not None:
        values.update({":guard": RELEASED, ":released": RELEASED, ":token": release})
        condition += " AND (attribute_not_exists(#guard) OR #guard = :released OR #claim = :token)"
    else:
        values[":guard"] = DONE
    expression = "SET " + ", ".join(assignments) + (" REMOVE " + ", ".join(removals) if removals else "") + counted
    try:
        ddb.update_item(
            TableName=_table(table),
            Key={"request_id": {"S": request_id}, "msg_id": {"S": msg_id}},
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={name: _serializer.serialize(value) for name, value in values.items()},
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def _replace_created(
    ddb: Any,
    created: dict[str, Any],
    state: DeliveryState,
    updated_at: str,
    provider: str | None,
    provider_message_id: str | None,
    reason: str | None,
    table: str | None,
) -> bool:
    """record_outcome as one conditional put over the item the claim created, its guard `done`; False when another
    write came between (a provider event, another copy's last receive), and nothing was written."""
    item = {name: value for name, value in created.items() if name != CLAIM_ATTR}
    item.update({"state": {"S": state.value}, "updated_at": {"S": updated_at}, GUARD_ATTR: {"S": DONE}})
    for name, value in (("provider", provider), ("provider_message_id", provider_message_id), ("reason", reason)):
        if value is not None:
            item[name] = {"S": value}
    if state is DeliveryState.sent:
        item["sent_at"] = {"S": updated_at}
    try:
        ddb.put_item(
            TableName=_table(table),
            Item=item,
            ConditionExpression="#state = :queued AND attempts = :one AND attribute_not_exists(provider_states)",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":queued": {"S": DeliveryState.queued.value}, ":one": {"N": "1"}},
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return False
    return True


REDRIVABLE_STATES = (DeliveryState.unknown, DeliveryState.failed)


def get_stored_message(
    request_id: str, msg_id: str, table: str | None = None
) -> tuple[DeliveryRecord, str | None] | None:
    """A notification's item and the queue message the sender kept (None for items written before it did)."""
    response = client("dynamodb").get_item(
        TableName=_table(table),
        Key={"request_id": {"S": request_id}, "msg_id": {"S": msg_id}},
        ConsistentRead=True,
    )
    if "Item" not in response:
        return None
    item = {name: _deserializer.deserialize(value) for name, value in response["Item"].items()}
    return DeliveryRecord.model_validate(item), item.get("message")


def mark_redriven(request_id: str, msg_id: str, *, updated_at: str, reason: str, table: str | None = None) -> bool:
    """Move an `unknown` or `failed` notification back to `queued` and release its guard, so the next copy of its
    message may claim it; False (and nothing changes) in any other state, so a `sent` notification can never be
    redriven, not even by two operators at once."""
    ddb = client("dynamodb")
    try:
        ddb.update_item(
            TableName=_table(table),
            Key={"request_id": {"S": request_id}, "msg_id": {"S": msg_id}},
            # The guard released in the same write: the next copy of the message may claim it (R8).
            UpdateExpression=(
                f"SET #state = :queued, updated_at = :now, reason = :reason, {GUARD_ATTR} = :released "
                f"REMOVE provider_message_id, {CLAIM_ATTR}"
            ),
            ConditionExpression="#state IN (:unknown, :failed)",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":released": {"S": RELEASED},
                ":queued": {"S": DeliveryState.queued.value},
                ":now": {"S": updated_at},
                ":reason": {"S": reason},
                ":unknown": {"S": DeliveryState.unknown.value},
                ":failed": {"S": DeliveryState.failed.value},
            },
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return False
    return True


class ProviderEventApplied(NamedTuple):
    """What a provider event changed: whether it was new (first time this state was seen for the msg_id),
    and the record as it was before, with the queue message the sender kept (for the report's callback)."""

    new: bool
    record: DeliveryRecord | None
    message: str | None


# A later provider state wins over an earlier one, never the reverse (SNS does not keep order).
_PROVIDER_RANK = {DeliveryState.delivered: 1, DeliveryState.bounced: 2, DeliveryState.complained: 2}


def record_provider_event(
    request_id: str,
    msg_id: str,
    *,
    state: DeliveryState,
    reason: str | None,
    updated_at: str,
    table: str | None = None,
) -> ProviderEventApplied:
    """Record a provider event's state once per (msg_id, state): the set `provider_states` remembers each, so the
    same event again (an SNS redelivery) changes nothing. The state itself moves only forward (delivered, then
    bounced or complained); a record that does not exist (expired, or another stack's) is left alone."""
    found = get_stored_message(request_id, msg_id, table)
    if found is None:
        return ProviderEventApplied(False, None, None)
    record, message = found
    current = _PROVIDER_RANK.get(record.state, 0)
    assignments = ["updated_at = :now"]
    values: dict[str, Any] = {":now": updated_at, ":seen": {state.value}}
    if _PROVIDER_RANK[state] >= current:
        assignments += ["#state = :state"]
        values[":state"] = state.value
        if reason is not None:
            assignments.append("reason = :reason")
            values[":reason"] = reason
    arguments: dict[str, Any] = {
        "TableName": _table(table),
        "Key": {"request_id": {"S": request_id}, "msg_id": {"S": msg_id}},
        "UpdateExpression": "SET " + ", ".join(assignments) + " ADD provider_states :seen",
        "ConditionExpression": "attribute_exists(msg_id) AND NOT contains(provider_states, :one)",
        "ExpressionAttributeValues": {
            **{name: _serializer.serialize(value) for name, value in values.items()},
            ":one": {"S": state.value},
        },
    }
    if ":state" in values:
        arguments["ExpressionAttributeNames"] = {"#state": "state"}
    ddb = client("dynamodb")
    try:
        ddb.update_item(**arguments)
    except ddb.exceptions.ConditionalCheckFailedException:
        return ProviderEventApplied(False, record, message)
    return ProviderEventApplied(True, record, message)
