"""What one request consumes, as AWS would bill it: DynamoDB request units from the items' sizes, SQS requests in
64 KB chunks, and the bytes the functions log. moto reports no sized consumption, so the meter reads every item
a write touches before and after it (with a client of its own, unhooked) and sizes it as DynamoDB does.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3

from bench.harness import REGION
from bench.prices import DYNAMODB_READ_UNIT_BYTES, DYNAMODB_WRITE_UNIT_BYTES, SQS_CHUNK_BYTES
from notify.observability import logger


def attribute_value_size(value: dict[str, Any]) -> int:
    """Bytes of one DynamoDB attribute value (AWS's item size rules: names and values, UTF-8)."""
    kind, data = next(iter(value.items()))
    if kind == "S":
        return len(str(data).encode("utf-8"))
    if kind == "B":
        return len(data)
    if kind == "N":
        digits = str(Decimal(str(data)).normalize()).lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(item.encode("utf-8")) for item in data)
    if kind == "BS":
        return sum(len(item) for item in data)
    if kind == "NS":
        return sum(attribute_value_size({"N": item}) for item in data)
    if kind == "L":
        return 3 + sum(1 + attribute_value_size(item) for item in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode("utf-8")) + attribute_value_size(item) for name, item in data.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + attribute_value_size(value) for name, value in item.items())


def write_units(before: int, after: int) -> int:
    """A write consumes units for the larger of the item before and after it, 1 KB a unit, at least one."""
    return max(1, math.ceil(max(before, after) / DYNAMODB_WRITE_UNIT_BYTES))


def read_units(size: int, *, consistent: bool) -> float:
    return max(1, math.ceil(size / DYNAMODB_READ_UNIT_BYTES)) * (1.0 if consistent else 0.5)


class CapacityMeter:
    """botocore hooks on the given clients: DynamoDB units per table, SQS requests (64 KB chunks) per operation."""

    def __init__(self) -> None:
        self.raw = boto3.session.Session(region_name=REGION).client("dynamodb")  # unhooked: reads for sizing
        self._key_names: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self.write_units: Counter[str] = Counter()
        self.read_units: defaultdict[str, float] = defaultdict(float)
        self.sqs_requests: Counter[str] = Counter()
        self.sqs_bytes = 0
        self.ses_emails = 0

    def hook(self, clients: dict[str, Any]) -> None:
        for service, client in clients.items():
            events = client.meta.events
            events.register(f"before-parameter-build.{service}", self._before, unique_id=f"bench-capacity-b-{service}")
            events.register(f"after-call.{service}", self._after, unique_id=f"bench-capacity-a-{service}")

    def unhook(self, clients: dict[str, Any]) -> None:
        for service, client in clients.items():
            events = client.meta.events
            events.unregister(f"before-parameter-build.{service}", unique_id=f"bench-capacity-b-{service}")
            events.unregister(f"after-call.{service}", unique_id=f"bench-capacity-a-{service}")

    def take(self) -> dict[str, Any]:
        with self._lock:
            taken = {
                "dynamodb_write_units": dict(self.write_units),
                "dynamodb_read_units": dict(self.read_units),
                "sqs_requests": dict(self.sqs_requests),
                "sqs_payload_bytes": self.sqs_bytes,
                "ses_emails": self.ses_emails,
            }
            self.write_units, self.read_units, self.sqs_requests = Counter(), defaultdict(float), Counter()
            self.sqs_bytes = self.ses_emails = 0
        return taken

    # -- DynamoDB
    def _keys_of(self, table: str) -> list[str]:
        if table not in self._key_names:
            schema = self.raw.describe_table(TableName=table)["Table"]["KeySchema"]
            self._key_names[table] = [part["AttributeName"] for part in schema]
        return self._key_names[table]

    def _read(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.raw.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return item

    def _key(self, table: str, operation: dict[str, Any]) -> dict[str, Any]:
        if "Key" in operation:
            return dict(operation["Key"])
        return {name: operation["Item"][name] for name in self._keys_of(table)}

    def _writes(self, operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], int]]:
        """(table, key, units multiplier) of every item the call writes."""
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            return [(params["TableName"], self._key(params["TableName"], params), 1)]
        if operation == "TransactWriteItems":
            writes = []
            for entry in params["TransactItems"]:
                ((_kind, write),) = entry.items()
                writes.append((write["TableName"], self._key(write["TableName"], write), 2))
            return writes
        if operation == "BatchWriteItem":
            return [
                (table, self._key(table, request.get("PutRequest") or request["DeleteRequest"]), 1)
                for table, requests in params["RequestItems"].items()
                for request in requests
            ]
        return []

    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], event_name: str, **_: Any) -> None:
        service = event_name.split(".")[1]
        if service == "sqs":
            context["bench_sqs_bytes"] = _sqs_payload_bytes(model.name, params)
            return
        if service != "dynamodb":
            return
        writes = self._writes(model.name, params)
        context["bench_writes"] = [
            (table, key, factor, item_size(self._read(table, key))) for table, key, factor in writes
        ]
        context["bench_params"] = params

    def _after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], event_name: str, **_: Any) -> None:
        service = event_name.split(".")[1]
        operation = model.name
        with self._lock:
            if service == "sesv2" and operation == "SendEmail":
                self.ses_emails += 1
            if service == "sqs" and "bench_sqs_bytes" in context:
                size = context["bench_sqs_bytes"]
                self.sqs_requests[operation] += max(1, math.ceil(size / SQS_CHUNK_BYTES))
                self.sqs_bytes += size
        if service != "dynamodb":
            return
        params = context.get("bench_params", {})
        units: Counter[str] = Counter()
        for table, key, factor, before in context.get("bench_writes", []):
            units[table] += factor * write_units(before, item_size(self._read(table, key)))
        reads: defaultdict[str, float] = defaultdict(float)
        if operation == "GetItem":
            reads[params["TableName"]] += read_units(
                item_size(parsed.get("Item")), consistent=bool(params.get("ConsistentRead"))
            )
        elif operation == "Query":
            size = sum(item_size(item) for item in parsed.get("Items", []))
            reads[params["TableName"]] += read_units(size, consistent=bool(params.get("ConsistentRead")))
        elif operation == "BatchGetItem":
            # Each key read is billed as a GetItem: an item found by its size, a key that holds none the least a read
            # costs (DynamoDB bills both); keys DynamoDB handed back unprocessed are not billed.
            unprocessed = parsed.get("UnprocessedKeys", {})
            for table, request in params["RequestItems"].items():
                consistent = bool(request.get("ConsistentRead"))
                found = parsed.get("Responses", {}).get(table, [])
                missing = len(request["Keys"]) - len(unprocessed.get(table, {}).get("Keys", [])) - len(found)
                reads[table] += sum(read_units(item_size(item), consistent=consistent) for item in found)
                reads[table] += max(0, missing) * read_units(0, consistent=consistent)
        elif operation == "TransactGetItems":
            for entry, answer in zip(params["TransactItems"], parsed.get("Responses", []), strict=False):
                reads[entry["Get"]["TableName"]] += 2 * read_units(item_size(answer.get("Item")), consistent=True)
        with self._lock:
            self.write_units.update(units)
            for table, units_read in reads.items():
                self.read_units[table] += units_read


def _sqs_payload_bytes(operation: str, params: dict[str, Any]) -> int:
    """Billed payload of a send: bodies and message attributes (names, types and values)."""

    def message_bytes(message: dict[str, Any]) -> int:
        size = len(message.get("MessageBody", "").encode("utf-8"))
        for name, attribute in (message.get("MessageAttributes") or {}).items():
            value = attribute.get("StringValue") or attribute.get("BinaryValue") or b""
            size += len(name) + len(attribute.get("DataType", "")) + len(value)
        return size

    if operation == "SendMessage":
        return message_bytes(params)
    if operation == "SendMessageBatch":
        return sum(message_bytes(entry) for entry in params.get("Entries", []))
    return 0


class _CountingWriter(io.TextIOBase):
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode("utf-8"))
        return len(text)


@contextlib.contextmanager
def counting_log_bytes() -> Iterator[_CountingWriter]:
    """Bytes the function writes to its logs (Logger's JSON lines and EMF metrics on stdout), as CloudWatch
    Logs would ingest them."""
    writer = _CountingWriter()
    handler = logger.registered_handler
    previous = handler.setStream(writer) if isinstance(handler, logging.StreamHandler) else None
    try:
        with contextlib.redirect_stdout(writer):
            yield writer
    finally:
        if isinstance(handler, logging.StreamHandler) and previous is not None:
            handler.setStream(previous)
        sys.stdout.flush()
