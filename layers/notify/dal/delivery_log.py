"""Delivery log table: per request, a manifest item (sk "#request") and one item per notification (sk msg_id)."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from notify.dal.clients import client, map_in_parallel
from notify.models.delivery import DeliveryRecord, DeliveryState, RequestManifest
from notify.settings import get_settings

BATCH_WRITE_LIMIT = 25
BATCH_WRITE_ATTEMPTS = 5
PARALLEL_CALLS = 16
MANIFEST_SK = "#request"  # sorts before every msg_id (a uuid), and can never be one

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _table(table: str | None) -> str:
    return table or get_settings().delivery_log_table


def put_request_manifest(manifest: RequestManifest, table: str | None = None, *, replace: bool = False) -> None:
    """Record what a request queued. A re-execution of the same keyed request (R8) keeps the first manifest,
    unless `replace` (to name the notifications the queue refused)."""
    ddb = client("dynamodb")
    item = {"msg_id": MANIFEST_SK, **manifest.model_dump(mode="json")}
    condition = {} if replace else {"ConditionExpression": "attribute_not_exists(request_id)"}
    with contextlib.suppress(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(
            TableName=_table(table),
            Item={name: _serializer.serialize(value) for name, value in item.items()},
            **condition,
        )


def put_request_manifests(manifests: list[RequestManifest], table: str | None = None) -> None:
    """Record many requests at once (a bulk request's items): BatchWriteItem, 25 a call, calls in parallel.

    Unlike put_request_manifest this overwrites, so a re-executed bulk request refreshes received_time.
    """
    requests = [
        {
            "PutRequest": {
                "Item": {
                    name: _serializer.serialize(value)
                    for name, value in {"msg_id": MANIFEST_SK, **manifest.model_dump(mode="json")}.items()
                }
            }
        }
        for manifest in manifests
    ]
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
    ddb = client("dynamodb")
    items: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {
        "TableName": _table(table),
        "KeyConditionExpression": "request_id = :id",
        "ExpressionAttributeValues": {":id": {"S": request_id}},
        "ConsistentRead": True,
    }
    while True:
        page = ddb.query(**arguments)
        items.extend({name: _deserializer.deserialize(value) for name, value in raw.items()} for raw in page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    manifest = next((RequestManifest.model_validate(i) for i in items if i["msg_id"] == MANIFEST_SK), None)
    records = [DeliveryRecord.model_validate(i) for i in items if i["msg_id"] != MANIFEST_SK]
    return manifest, records


def record_attempt(
    request_id: str,
    msg_id: str,
    *,
    channel: str,
    destination: str,
    now: str,
    expires_at: int,
    message: str | None = None,
    table: str | None = None,
) -> int:
    """Count one delivery attempt of a notification (creating its item as `queued`); returns the attempt number.

    `message` is the queue message itself (JSON), kept so an operator can redrive the notification; the
    table is encrypted and only the sender and the admin command read it (the status route never shows it).
    """
    values = {
        ":channel": {"S": channel},
        ":destination": {"S": destination},
        ":now": {"S": now},
        ":expires_at": {"N": str(expires_at)},
        ":queued": {"S": DeliveryState.queued.value},
        ":one": {"N": "1"},
    }
    kept = ""
    if message is not None:
        values[":message"] = {"S": message}
        kept = ", message = :message"
    response = client("dynamodb").update_item(
        TableName=_table(table),
        Key={"request_id": {"S": request_id}, "msg_id": {"S": msg_id}},
        UpdateExpression=(
            "SET channel = :channel, destination = :destination, updated_at = :now, expires_at = :expires_at, "
            f"#state = if_not_exists(#state, :queued){kept} ADD attempts :one"
        ),
        ExpressionAttributeNames={"#state": "state"},
        ExpressionAttributeValues=values,
        ReturnValues="UPDATED_NEW",
    )
    return int(response["Attributes"]["attempts"]["N"])


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
) -> bool:
    """Set a notification's state; never moves a `sent` notification to another state. False when it was sent."""
    ddb = client("dynamodb")
    values: dict[str, Any] = {":state": state.value, ":now": updated_at, ":sent": DeliveryState.sent.value}
    assignments = ["#state = :state", "updated_at = :now"]
    removals = []
    for name, value in (("provider", provider), ("provider_message_id", provider_message_id), ("reason", reason)):
        if value is None:
            removals.append(name)
        else:
            assignments.append(f"{name} = :{name}")
            values[f":{name}"] = value
    if state is DeliveryState.sent:
        assignments.append("sent_at = :now")
    expression = "SET " + ", ".join(assignments) + (" REMOVE " + ", ".join(removals) if removals else "")
    try:
        ddb.update_item(
            TableName=_table(table),
            Key={"request_id": {"S": request_id}, "msg_id": {"S": msg_id}},
            UpdateExpression=expression,
            ConditionExpression="attribute_not_exists(#state) OR #state <> :sent",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={name: _serializer.serialize(value) for name, value in values.items()},
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
    """Move an `unknown` or `failed` notification back to `queued`; False (and nothing changes) in any other
    state, so a `sent` notification can never be redriven, not even by two operators at once."""
    ddb = client("dynamodb")
    try:
        ddb.update_item(
            TableName=_table(table),
            Key={"request_id": {"S": request_id}, "msg_id": {"S": msg_id}},
            UpdateExpression="SET #state = :queued, updated_at = :now, reason = :reason REMOVE provider_message_id",
            ConditionExpression="#state IN (:unknown, :failed)",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
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
