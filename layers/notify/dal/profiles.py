"""Profiles table: one item per (workspace, version, distinct_id); key `scope` = "<workspace>#<version>".

Every change is a conditional write on the item's `revision` (or a conditional transaction for a rename or a
merge), so two concurrent writers never lose each other's destinations: the loser re-reads and tries again
(notify.logic.profiles), and a crash never leaves both profiles of a merge, or neither.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from notify.dal.clients import batch_get, client
from notify.models.profiles import Profile
from notify.settings import get_settings


class ProfileExists(Exception):
    """A profile with that distinct_id already exists."""


class ProfileChanged(Exception):
    """The profile changed (or vanished) since it was read: read it again and retry."""


def _table(table: str | None) -> str:
    return table or get_settings().profiles_table


def scope_key(workspace: str, version: str) -> str:
    return f"{workspace}#{version}"


def _key(workspace: str, version: str, distinct_id: str) -> dict[str, Any]:
    return {"scope": {"S": scope_key(workspace, version)}, "distinct_id": {"S": distinct_id}}


def _item(workspace: str, profile: Profile, revision: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_key(workspace, profile.version, profile.distinct_id),
        "status": {"N": str(profile.status)},
        "channel": {"S": json.dumps(profile.channel.stored(), separators=(",", ":"))},
        "created_at": {"S": profile.created_at},
        "updated_at": {"S": profile.updated_at},
        "revision": {"N": str(revision)},
    }
    if profile.name is not None:
        item["name"] = {"S": profile.name}
    if profile.timezone is not None:
        item["timezone"] = {"S": profile.timezone}
    return item


def _profile(item: dict[str, Any]) -> tuple[Profile, int]:
    version = item["scope"]["S"].rpartition("#")[2]
    profile = Profile.model_validate(
        {
            "distinct_id": item["distinct_id"]["S"],
            "name": item.get("name", {}).get("S"),
            "status": int(item["status"]["N"]),
            "timezone": item.get("timezone", {}).get("S"),
            "channel": json.loads(item["channel"]["S"]),
            "created_at": item["created_at"]["S"],
            "updated_at": item["updated_at"]["S"],
            "version": version,
        }
    )
    return profile, int(item["revision"]["N"])


def get_profile(
    workspace: str, version: str, distinct_id: str, *, consistent: bool = True, table: str | None = None
) -> tuple[Profile, int] | None:
    """The profile and its revision, or None."""
    response = client("dynamodb").get_item(
        TableName=_table(table), Key=_key(workspace, version, distinct_id), ConsistentRead=consistent
    )
    item = response.get("Item")
    return _profile(item) if item else None


def batch_get_profiles(
    workspace: str, version: str, distinct_ids: Sequence[str], table: str | None = None
) -> dict[str, Profile]:
    """Profiles by distinct_id (absent ones left out): BatchGetItem, 100 keys a call, unprocessed keys retried."""
    keys = [_key(workspace, version, distinct_id) for distinct_id in dict.fromkeys(distinct_ids)]
    profiles = [_profile(item)[0] for item in batch_get(_table(table), keys)]
    return {profile.distinct_id: profile for profile in profiles}


def create_profile(workspace: str, profile: Profile, table: str | None = None) -> None:
    """Store a new profile; ProfileExists when one has its distinct_id (never a second profile)."""
    ddb = client("dynamodb")
    try:
        ddb.put_item(
            TableName=_table(table),
            Item=_item(workspace, profile, 1),
            ConditionExpression="attribute_not_exists(distinct_id)",
        )
    except ddb.exceptions.ConditionalCheckFailedException as exc:
        raise ProfileExists(profile.distinct_id) from exc


def replace_profile(workspace: str, profile: Profile, revision: int, table: str | None = None) -> None:
    """Write `profile` over the one read at `revision`; ProfileChanged if another write came between."""
    ddb = client("dynamodb")
    try:
        ddb.put_item(
            TableName=_table(table),
            Item=_item(workspace, profile, revision + 1),
            ConditionExpression="revision = :revision",
            ExpressionAttributeValues={":revision": {"N": str(revision)}},
        )
    except ddb.exceptions.ConditionalCheckFailedException as exc:
        raise ProfileChanged(profile.distinct_id) from exc


def move_profile(
    workspace: str,
    source: str,
    source_revision: int,
    target: Profile,
    target_revision: int | None,
    table: str | None = None,
) -> None:
    """In one transaction: write `target` (new when target_revision is None, else over that revision) and delete
    `source` as read at source_revision. A rename or a merge: a crash leaves both as they were, or the result.
    ProfileExists when a new target appeared meanwhile; ProfileChanged when either one changed."""
    ddb = client("dynamodb")
    name = _table(table)
    if target_revision is None:
        put: dict[str, Any] = {
            "TableName": name,
            "Item": _item(workspace, target, 1),
            "ConditionExpression": "attribute_not_exists(distinct_id)",
        }
    else:
        put = {
            "TableName": name,
            "Item": _item(workspace, target, target_revision + 1),
            "ConditionExpression": "revision = :revision",
            "ExpressionAttributeValues": {":revision": {"N": str(target_revision)}},
        }
    delete = {
        "TableName": name,
        "Key": _key(workspace, target.version, source),
        "ConditionExpression": "revision = :revision",
        "ExpressionAttributeValues": {":revision": {"N": str(source_revision)}},
    }
    try:
        ddb.transact_write_items(TransactItems=[{"Put": put}, {"Delete": delete}])
    except ddb.exceptions.TransactionCanceledException as exc:
        reasons = exc.response.get("CancellationReasons") or []
        codes = [reason.get("Code") for reason in reasons]
        if target_revision is None and codes[:1] == ["ConditionalCheckFailed"]:
            raise ProfileExists(target.distinct_id) from exc
        if "ConditionalCheckFailed" in codes or "TransactionConflict" in codes:
            raise ProfileChanged(source) from exc
        raise


def delete_profile(workspace: str, version: str, distinct_id: str, table: str | None = None) -> bool:
    """Delete one profile; whether it existed."""
    response = client("dynamodb").delete_item(
        TableName=_table(table), Key=_key(workspace, version, distinct_id), ReturnValues="ALL_OLD"
    )
    return bool(response.get("Attributes"))


def list_profiles(workspace: str, version: str, table: str | None = None) -> Iterator[Profile]:
    """Every profile of a workspace's version, page after page (the admin command)."""
    arguments: dict[str, Any] = {
        "TableName": _table(table),
        "KeyConditionExpression": "#scope = :scope",
        "ExpressionAttributeNames": {"#scope": "scope"},
        "ExpressionAttributeValues": {":scope": {"S": scope_key(workspace, version)}},
    }
    while True:
        page = client("dynamodb").query(**arguments)
        for item in page["Items"]:
            yield _profile(item)[0]
        if "LastEvaluatedKey" not in page:
            return
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
