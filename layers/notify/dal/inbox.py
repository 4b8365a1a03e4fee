"""Inbox table: in-app notifications per recipient, newest last (sk "<created_at>#<msg_id>")."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from notify.dal.clients import client
from notify.settings import get_settings

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def inbox_key(workspace: str, recipient: str) -> str:
    """Inboxes are per workspace: the same recipient id in two workspaces is two people."""
    return f"{workspace}#{recipient}"


def put_inbox_item(workspace: str, recipient: str, item: dict[str, Any], table: str | None = None) -> str:
    """Store one in-app notification (`item` holds msg_id and created_at); returns its sort key."""
    sort_key = f"{item['created_at']}#{item['msg_id']}"
    full = {"recipient": inbox_key(workspace, recipient), "sort_key": sort_key, **item}
    client("dynamodb").put_item(
        TableName=table or get_settings().inbox_table,
        Item={name: _serializer.serialize(value) for name, value in full.items() if value is not None},
    )
    return sort_key


def list_inbox(workspace: str, recipient: str, table: str | None = None) -> list[dict[str, Any]]:
    """A recipient's in-app notifications, oldest first."""
    response = client("dynamodb").query(
        TableName=table or get_settings().inbox_table,
        KeyConditionExpression="recipient = :r",
        ExpressionAttributeValues={":r": {"S": inbox_key(workspace, recipient)}},
    )
    return [{name: _deserializer.deserialize(value) for name, value in raw.items()} for raw in response["Items"]]
