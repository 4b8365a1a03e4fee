"""API keys table: keys are stored as SHA-256 hashes only."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from notify.dal.clients import client
from notify.models.definitions import ApiKeyRecord
from notify.settings import get_settings


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def get_api_key(key_hash: str, table: str | None = None) -> ApiKeyRecord | None:
    """The stored key with this hash, revoked or not, or None."""
    response = client("dynamodb").get_item(
        TableName=table or get_settings().api_keys_table,
        Key={"key_hash": {"S": key_hash}},
        ConsistentRead=True,
    )
    item = response.get("Item")
    if not item:
        return None
    return ApiKeyRecord.model_validate({name: value["S"] for name, value in item.items() if "S" in value})


def put_api_key(record: ApiKeyRecord, table: str | None = None) -> None:
    item = {name: {"S": value} for name, value in record.model_dump(exclude_none=True).items()}
    client("dynamodb").put_item(TableName=table or get_settings().api_keys_table, Item=item)


def revoke_api_key(key_hash: str, table: str | None = None) -> bool:
    """Mark a key revoked; False when no such key exists."""
    ddb = client("dynamodb")
    try:
        ddb.update_item(
            TableName=table or get_settings().api_keys_table,
            Key={"key_hash": {"S": key_hash}},
            UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :now)",
            ConditionExpression="attribute_exists(key_hash)",
            ExpressionAttributeValues={":now": {"S": datetime.now(UTC).isoformat()}},
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return False
    return True
