"""Suppressions table: one item per (workspace, channel, destination or distinct_id) (docs/contract.md section 8).

Key: `workspace`, and `entry` = "d#<channel>#<sha256 of the destination>" or "u#<channel>#<sha256 of the
distinct_id>": a hash, since a destination may be a 2048-character URL and a sort key holds 1024 bytes. Email
addresses are compared case-insensitively (lower-cased before hashing). Adding the same suppression twice
writes the same item. `expires_at` (epoch seconds) is the table's TTL attribute; DynamoDB deletes expired
items within days, so readers also ignore an item whose time has passed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from notify.dal.clients import batch_get, client
from notify.settings import get_settings


@dataclass(frozen=True)
class SuppressionItem:
    id: str
    channel: str
    destination: str | None
    distinct_id: str | None
    description: str | None
    created_at: str
    expires_at: int | None

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def destination_entry(channel: str, destination: str) -> str:
    normalised = destination.strip().lower() if channel == "email" else destination.strip()
    return f"d#{channel}#{_digest(normalised)}"


def distinct_id_entry(channel: str, distinct_id: str) -> str:
    return f"u#{channel}#{_digest(distinct_id)}"


def suppression_id(workspace: str, entry: str) -> str:
    """The `_id` Fyno's list shows: 24 hex digits, the same for the same suppression."""
    return _digest(f"{workspace}#{entry}")[:24]


def _item(workspace: str, entry: str, suppression: SuppressionItem) -> dict[str, Any]:
    item: dict[str, Any] = {
        "workspace": {"S": workspace},
        "entry": {"S": entry},
        "id": {"S": suppression.id},
        "channel": {"S": suppression.channel},
        "created_at": {"S": suppression.created_at},
    }
    optional = {
        "destination": suppression.destination,
        "distinct_id": suppression.distinct_id,
        "description": suppression.description,
    }
    item.update({name: {"S": value} for name, value in optional.items() if value is not None})
    if suppression.expires_at is not None:
        item["expires_at"] = {"N": str(suppression.expires_at)}
    return item


def _from_item(item: dict[str, Any]) -> SuppressionItem:
    def text(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    return SuppressionItem(
        id=item["id"]["S"],
        channel=item["channel"]["S"],
        destination=text("destination"),
        distinct_id=text("distinct_id"),
        description=text("description"),
        created_at=item["created_at"]["S"],
        expires_at=int(item["expires_at"]["N"]) if "expires_at" in item else None,
    )


def put_suppression(workspace: str, entry: str, suppression: SuppressionItem) -> None:
    client("dynamodb").put_item(TableName=get_settings().suppressions_table, Item=_item(workspace, entry, suppression))


def list_suppressions(workspace: str) -> Iterator[tuple[str, SuppressionItem]]:
    """Every (entry, suppression) of the workspace, expired ones included, read consistently."""
    request: dict[str, Any] = {
        "TableName": get_settings().suppressions_table,
        "KeyConditionExpression": "workspace = :w",
        "ExpressionAttributeValues": {":w": {"S": workspace}},
        "ConsistentRead": True,
    }
    while True:
        page = client("dynamodb").query(**request)
        for item in page.get("Items", []):
            yield item["entry"]["S"], _from_item(item)
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def delete_suppression(workspace: str, entry: str) -> None:
    client("dynamodb").delete_item(
        TableName=get_settings().suppressions_table, Key={"workspace": {"S": workspace}, "entry": {"S": entry}}
    )


def active_suppressions(workspace: str, entries: Iterable[str]) -> dict[str, SuppressionItem]:
    """Those of `entries` the workspace suppresses now (not expired), read consistently in BatchGetItem calls."""
    unique = list(dict.fromkeys(entries))
    if not unique:
        return {}
    keys = [{"workspace": {"S": workspace}, "entry": {"S": entry}} for entry in unique]
    now = time.time()
    found = {item["entry"]["S"]: _from_item(item) for item in batch_get(get_settings().suppressions_table, keys)}
    return {entry: item for entry, item in found.items() if not item.expired(now)}
