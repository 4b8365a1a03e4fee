"""Values too large for one DynamoDB item beside their idempotency record: compressed, and past PART_BYTES spilled
into numbered part items (`<key><suffix><n>`, with the record's expiry) written before the record names them, so
a record that names parts always has every one, checked against the digest it keeps (R3).

Two values take this path: a stored answer (a 1000-item bulk answer can pass 500 KB) and the destinations a keyed
request recorded from profiles (notify.dal.idempotency_store.record_destinations).
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Any, Protocol

from notify.dal.clients import batch_get

# DynamoDB items hold at most 400 KB, key and attribute names included.
INLINE_RESPONSE_BYTES = 64 * 1024
PART_BYTES = 300 * 1024
# Recorded destinations kept in the record itself, beside an answer of up to PART_BYTES: 300 + 64 KB, the key and
# the other attributes stay under the 400 KB item. Larger ones are spilled into parts.
DESTINATIONS_INLINE_BYTES = 64 * 1024
STATUS_PART = "PART"


class SpilledPartsUnreadable(Exception):
    """A record whose parts are missing or do not match its digest (never expected)."""


class PartsTable(Protocol):
    """What of the persistence layer (Powertools' DynamoDBPersistenceLayer) the parts need."""

    client: Any
    table_name: str
    data_attr: str
    expiry_attr: str
    status_attr: str
    key_attr: str
    sort_key_attr: str | None

    def _get_key(self, idempotency_key: str) -> dict[str, Any]: ...


def compress(value: str) -> bytes:
    return zlib.compress(value.encode(), 6)


def decompress(value: bytes) -> str:
    return zlib.decompress(value).decode()


def digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def part_key(idempotency_key: str, suffix: str, number: int) -> str:
    """A part's key: never a record's, since Powertools' keys end in a hash with no '#'."""
    return f"{idempotency_key}{suffix}{number}"


def write_parts(table: PartsTable, idempotency_key: str, suffix: str, payload: bytes, expiry: int) -> int:
    """Spill `payload` into part items of PART_BYTES (module constant, read at call time); returns how many."""
    parts = [payload[start : start + PART_BYTES] for start in range(0, len(payload), PART_BYTES)]
    for number, part in enumerate(parts):
        table.client.put_item(
            TableName=table.table_name,
            Item={
                **table._get_key(part_key(idempotency_key, suffix, number)),
                table.data_attr: {"B": part},
                table.expiry_attr: {"N": str(expiry)},
                table.status_attr: {"S": STATUS_PART},
            },
        )
    return len(parts)


def read_parts(table: PartsTable, record_key: str, suffix: str, count: int, expected_digest: str) -> bytes:
    """What write_parts spilled for the record `record_key`, checked against the digest the record keeps."""
    keys = [table._get_key(part_key(record_key, suffix, number)) for number in range(count)]
    key_attr = table.sort_key_attr or table.key_attr
    found = {
        part[key_attr]["S"]: bytes(part[table.data_attr]["B"])
        for part in batch_get(table.table_name, keys, table.client)
    }
    try:
        payload = b"".join(found[part_key(record_key, suffix, number)] for number in range(count))
    except KeyError as exc:
        raise SpilledPartsUnreadable(f"part {exc} of a stored record is missing") from None
    if digest(payload) != expected_digest:
        raise SpilledPartsUnreadable("the parts of a stored record do not match its digest")
    return payload
