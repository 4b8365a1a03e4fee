"""Powertools' DynamoDB idempotency persistence, extended with a per-request expiry (R6) and with
responses of any size (R3).

A response is stored as Powertools stores it (a string attribute) up to INLINE_RESPONSE_BYTES. Larger
ones are compressed (zlib) into a binary attribute; one still larger than PART_BYTES compressed is
spilled into numbered part items (`<key>#part<n>`, same expiry) written before the record completes,
so a COMPLETED record always has every part. A 1000-item bulk answer of 500 KB compresses to well
under one item; spilling covers destinations long and varied enough to defeat compression.
Rule ids (R1..R9, D1..D7) are those of docs/contract.md.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord
from botocore.exceptions import ClientError

from notify.caches import per_container
from notify.dal.clients import batch_get, client
from notify.dal.delivery_log import clear_deferred_manifests, deferred_manifest_puts, write_deferred_manifests
from notify.observability import logger
from notify.settings import get_settings

# The expiry of the request being claimed or completed. A context variable, not an attribute,
# because one persistence layer serves concurrent requests (threads in tests and in the local stack).
_request_expiry: ContextVar[int | None] = ContextVar("request_expiry", default=None)
# The expiry of the key lifetime the current request claimed (see claimed_expiry).
_claimed_expiry: ContextVar[int | None] = ContextVar("claimed_expiry", default=None)
# The record the current request claimed (its layer and key), and the recipients' destinations an earlier
# execution of the same key recorded in it before sending anything (see recorded_destinations).
_claimed_record: ContextVar[tuple[Any, str] | None] = ContextVar("claimed_record", default=None)
_recorded_destinations: ContextVar[bytes | None] = ContextVar("recorded_destinations", default=None)
DESTINATIONS_ATTR = "destinations_zlib"
DESTINATIONS_PARTS_ATTR = "destinations_parts"
DESTINATIONS_DIGEST_ATTR = "destinations_sha256"
DESTINATIONS_PART_SUFFIX = "#dest"
# When the key's current lifetime was first claimed (epoch ms): a re-execution answers with the first
# execution's received_time, so the answer is the same byte for byte (R4).
_claimed_received_ms: ContextVar[int | None] = ContextVar("claimed_received_ms", default=None)
RECEIVED_ATTR = "received_ms"

# DynamoDB items hold at most 400 KB, key and attribute names included.
INLINE_RESPONSE_BYTES = 64 * 1024
PART_BYTES = 300 * 1024
# Recorded destinations kept in the record itself, beside an answer of up to PART_BYTES: 300 + 64 KB, the key
# and the other attributes stay under the 400 KB item. Larger ones are spilled into parts.
DESTINATIONS_INLINE_BYTES = 64 * 1024
RESPONSE_PART_SUFFIX = "#part"
ENCODING_ATTR = "response_encoding"  # absent (a plain string), "zlib", or "zlib-parts"
PARTS_ATTR = "response_parts"
DIGEST_ATTR = "response_sha256"
STATUS_PART = "PART"


class StoredResponseUnreadable(Exception):
    """A completed record whose parts are missing or do not match its digest (never expected)."""


@contextmanager
def claim_context() -> Iterator[None]:
    """One request's claim: what it claims (claimed_expiry) is forgotten when the request ends."""
    token = _claimed_expiry.set(None)
    record_token = _claimed_record.set(None)
    recorded_token = _recorded_destinations.set(None)
    received_token = _claimed_received_ms.set(None)
    try:
        yield
    finally:
        _claimed_expiry.reset(token)
        _claimed_record.reset(record_token)
        _recorded_destinations.reset(recorded_token)
        _claimed_received_ms.reset(received_token)


def claimed_received_ms() -> int | None:
    """When the claimed key lifetime was first claimed (epoch ms): by this request, or by the execution whose
    lapsed claim it took over. None before a claim, or for a record written before this was kept."""
    return _claimed_received_ms.get()


def recorded_destinations() -> bytes | None:
    """What an earlier execution of the claimed key recorded with record_destinations (a crash, a timeout, a
    failed completion), found when this request took its lapsed claim over; None otherwise."""
    return _recorded_destinations.get()


def record_destinations(payload: bytes) -> None:
    """Keep the recipients' destinations (resolved from profiles) in the claimed record before anything is sent,
    so a re-execution after a crash sends and answers the same ones whatever the profiles say by then (R8).
    Past DESTINATIONS_INLINE_BYTES they are spilled into part items first, as a large answer is: the record
    must still hold its answer (up to PART_BYTES) within one 400 KB item."""
    claimed = _claimed_record.get()
    if claimed is None:
        raise RuntimeError("no claimed idempotency record to record destinations in")
    layer, key = claimed
    names = {"#status": layer.status_attr}
    values: dict[str, Any] = {":inprogress": {"S": STATUS_CONSTANTS["INPROGRESS"]}}
    if len(payload) <= DESTINATIONS_INLINE_BYTES:
        assignments = "SET #destinations = :destinations REMOVE #parts"
        names.update({"#destinations": DESTINATIONS_ATTR, "#parts": DESTINATIONS_PARTS_ATTR})
        values[":destinations"] = {"B": payload}
    else:
        count = layer.write_parts(key, DESTINATIONS_PART_SUFFIX, payload, _claimed_expiry.get() or 0)
        assignments = "SET #parts = :parts, #digest = :digest REMOVE #destinations"
        names.update(
            {"#destinations": DESTINATIONS_ATTR, "#parts": DESTINATIONS_PARTS_ATTR, "#digest": DESTINATIONS_DIGEST_ATTR}
        )
        values.update({":parts": {"N": str(count)}, ":digest": {"S": hashlib.sha256(payload).hexdigest()}})
    layer.client.update_item(
        TableName=layer.table_name,
        Key=layer._get_key(key),
        UpdateExpression=assignments,
        ConditionExpression="#status = :inprogress",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )
    _recorded_destinations.set(payload)


def claimed_expiry() -> int | None:
    """The expiry of the key lifetime this request claimed (epoch seconds): the same for every execution of
    one key until it expires, and later for a key reused after that. None before a claim."""
    return _claimed_expiry.get()


class RequestExpiryDynamoDBPersistenceLayer(DynamoDBPersistenceLayer):
    """Records expire at the request's `expires_at` (epoch seconds) when it has one, else after the default.

    The expiry is set once per key lifetime: by the claim that finds no live record. A later claim that takes
    over a lapsed INPROGRESS record (a crash, a timeout) keeps it, and so does the completion, so the first
    request's expiry stays final until it passes (R6) and names the lifetime (`claimed_expiry`), from which
    the request's ids derive (R8).
    """

    def save_inprogress(self, data: dict[str, Any], remaining_time_in_millis: int | None = None) -> None:
        token = _request_expiry.set(data.get("expires_at"))
        _claimed_expiry.set(None)
        try:
            super().save_inprogress(data, remaining_time_in_millis)
        finally:
            _request_expiry.reset(token)

    def _put_record(self, data_record: DataRecord) -> None:
        """Claim the key: a new lifetime where no live record exists, else take over a lapsed INPROGRESS claim
        keeping its expiry; any other record (completed, or in progress) is reported as Powertools does."""
        now_ms = int(time.time() * 1000)
        now = now_ms // 1000
        item = {
            **self._get_key(data_record.idempotency_key),
            self.expiry_attr: {"N": str(data_record.expiry_timestamp)},
            self.status_attr: {"S": data_record.status},
            RECEIVED_ATTR: {"N": str(now_ms)},
        }
        if data_record.in_progress_expiry_timestamp is not None:
            item[self.in_progress_expiry_attr] = {"N": str(data_record.in_progress_expiry_timestamp)}
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(#id) OR #expiry < :now",
                ExpressionAttributeNames={"#id": self.key_attr, "#expiry": self.expiry_attr},
                ExpressionAttributeValues={":now": {"N": str(now)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            # The record that refused the claim: in the refused put's answer, else read once.
            earlier = exc.response.get("Item") or self._read_item(data_record.idempotency_key)
            old = self._item_to_data_record(earlier)
            if not self._lapsed_in_progress(old) or not self._take_over(data_record, now):
                self._save_to_cache(data_record=old)
                raise IdempotencyItemAlreadyExistsError(old_data_record=old) from exc
            _claimed_expiry.set(old.expiry_timestamp)
            _claimed_record.set((self, data_record.idempotency_key))
            _recorded_destinations.set(self._recorded_destinations(earlier))
            received = earlier.get(RECEIVED_ATTR)
            _claimed_received_ms.set(int(received["N"]) if received else None)
            return
        _claimed_expiry.set(data_record.expiry_timestamp)
        _claimed_record.set((self, data_record.idempotency_key))
        _recorded_destinations.set(None)
        _claimed_received_ms.set(now_ms)

    def _read_item(self, idempotency_key: str) -> dict[str, Any]:
        """The record's item, read consistently; IdempotencyItemNotFoundError when there is none (as _get_record)."""
        response = self.client.get_item(
            TableName=self.table_name, Key=self._get_key(idempotency_key), ConsistentRead=True
        )
        if "Item" not in response:
            raise IdempotencyItemNotFoundError
        return dict(response["Item"])

    @staticmethod
    def _lapsed_in_progress(record: DataRecord) -> bool:
        return (
            record.status == STATUS_CONSTANTS["INPROGRESS"]
            and record.in_progress_expiry_timestamp is not None
            and record.in_progress_expiry_timestamp < int(time.time() * 1000)
        )

    def _take_over(self, data_record: DataRecord, now: int) -> bool:
        """Claim a lapsed INPROGRESS record for this invocation, its expiry unchanged; False if another did."""
        names = {"#status": self.status_attr, "#in_progress_expiry": self.in_progress_expiry_attr}
        values = {
            ":inprogress": {"S": STATUS_CONSTANTS["INPROGRESS"]},
            ":now_in_millis": {"N": str(int(time.time() * 1000))},
        }
        assignments = "#status = :inprogress"
        if data_record.in_progress_expiry_timestamp is not None:
            assignments += ", #in_progress_expiry = :in_progress_expiry"
            values[":in_progress_expiry"] = {"N": str(data_record.in_progress_expiry_timestamp)}
        else:
            assignments += " REMOVE #in_progress_expiry"
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=self._get_key(data_record.idempotency_key),
                UpdateExpression=f"SET {assignments}",
                ConditionExpression="#status = :inprogress AND #in_progress_expiry < :now_in_millis",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def save_success(self, data: dict[str, Any], result: dict) -> None:
        token = _request_expiry.set(data.get("expires_at"))
        try:
            super().save_success(data, result)
        finally:
            _request_expiry.reset(token)

    def _get_expiry_timestamp(self) -> int:
        return _claimed_expiry.get() or _request_expiry.get() or super()._get_expiry_timestamp()

    def _update_record(self, data_record: DataRecord) -> None:
        """Complete the record; a response past INLINE_RESPONSE_BYTES is compressed, and spilled if need be.

        The request manifests a keyed request kept back (notify.dal.delivery_log.manifests_with_completion)
        go in the same TransactWriteItems: one call completes the record and makes the request visible to
        the status route. A cancelled transaction writes neither, and fails like a failed update.
        """
        encoded = (data_record.response_data or "").encode()
        names = {"#expiry": self.expiry_attr, "#status": self.status_attr, "#response_data": self.data_attr}
        values: dict[str, Any] = {
            ":expiry": {"N": str(data_record.expiry_timestamp)},
            ":status": {"S": data_record.status},
        }
        if len(encoded) <= INLINE_RESPONSE_BYTES:
            assignments = "#response_data = :response_data"
            values[":response_data"] = {"S": data_record.response_data}
        else:
            assignments = self._compressed_assignments(data_record, encoded, names, values)
        if self.payload_validation_enabled:
            assignments += ", #validation_key = :validation_key"
            values[":validation_key"] = {"S": data_record.payload_hash}
            names["#validation_key"] = self.validation_key_attr
        update = {
            "TableName": self.table_name,
            "Key": self._get_key(data_record.idempotency_key),
            "UpdateExpression": f"SET #expiry = :expiry, #status = :status, {assignments}",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        manifests = deferred_manifest_puts()
        if not manifests:
            self.client.update_item(**update)
            return
        try:
            self.client.transact_write_items(TransactItems=[{"Update": update}, *manifests])
        except ClientError as exc:
            if not _only_manifests_failed(exc):
                raise  # the completion failed, as it could before: run_idempotently writes the manifests alone
            # The delivery log failed, not the record: try the manifests on their own, then complete the record.
            # A 202 is never stored for a request the status route cannot find (docs/contract.md section 7): when
            # the manifests fail again this raises, the record stays in progress, and the client is answered 503
            # (notify.logic.idempotency.run_idempotently); its retry re-executes with the same ids (R8).
            logger.warning("completion with request manifests failed", extra={"error": str(exc)})
            write_deferred_manifests()
            self.client.update_item(**update)
        else:
            clear_deferred_manifests()

    def _compressed_assignments(
        self, data_record: DataRecord, encoded: bytes, names: dict[str, str], values: dict[str, Any]
    ) -> str:
        """The compressed response inline, or spilled into part items written now (before the completion)."""
        compressed = zlib.compress(encoded, 6)
        names["#encoding"] = ENCODING_ATTR
        if len(compressed) <= PART_BYTES:
            values.update({":response_data": {"B": compressed}, ":encoding": {"S": "zlib"}})
            return "#response_data = :response_data, #encoding = :encoding"
        del names["#response_data"]
        count = self.write_parts(
            data_record.idempotency_key, RESPONSE_PART_SUFFIX, compressed, data_record.expiry_timestamp or 0
        )
        names.update({"#parts": PARTS_ATTR, "#digest": DIGEST_ATTR})
        values.update(
            {
                ":encoding": {"S": "zlib-parts"},
                ":parts": {"N": str(count)},
                ":digest": {"S": hashlib.sha256(compressed).hexdigest()},
            }
        )
        return "#encoding = :encoding, #parts = :parts, #digest = :digest"

    def _item_to_data_record(self, item: dict[str, Any]) -> DataRecord:
        """Powertools' record, with a compressed or spilled response made whole again."""
        encoding = item.get(ENCODING_ATTR, {}).get("S")
        if encoding == "zlib":
            item = {**item, self.data_attr: {"S": zlib.decompress(item[self.data_attr]["B"]).decode()}}
        elif encoding == "zlib-parts":
            compressed = self._read_parts(item)
            item = {**item, self.data_attr: {"S": zlib.decompress(compressed).decode()}}
        return super()._item_to_data_record(item)

    def write_parts(self, idempotency_key: str, suffix: str, payload: bytes, expiry: int) -> int:
        """Spill `payload` into numbered part items (`<key><suffix><n>`, PART_BYTES each, expiring with the
        record), written before the record names them; returns how many."""
        parts = [payload[start : start + PART_BYTES] for start in range(0, len(payload), PART_BYTES)]
        for number, part in enumerate(parts):
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    **self._get_key(_part_key(idempotency_key, number, suffix)),
                    self.data_attr: {"B": part},
                    self.expiry_attr: {"N": str(expiry)},
                    self.status_attr: {"S": STATUS_PART},
                },
            )
        return len(parts)

    def _read_parts(self, item: dict[str, Any], suffix: str = RESPONSE_PART_SUFFIX) -> bytes:
        """What write_parts spilled for the record `item`, checked against the digest the record keeps."""
        key = item[self.sort_key_attr or self.key_attr]["S"]
        count_attr, digest_attr = (
            (PARTS_ATTR, DIGEST_ATTR)
            if suffix == RESPONSE_PART_SUFFIX
            else (DESTINATIONS_PARTS_ATTR, DESTINATIONS_DIGEST_ATTR)
        )
        count = int(item[count_attr]["N"])
        keys = [self._get_key(_part_key(key, number, suffix)) for number in range(count)]
        found = {
            part[self.sort_key_attr or self.key_attr]["S"]: bytes(part[self.data_attr]["B"])
            for part in batch_get(self.table_name, keys, self.client)
        }
        try:
            payload = b"".join(found[_part_key(key, number, suffix)] for number in range(count))
        except KeyError as exc:
            raise StoredResponseUnreadable(f"part {exc} of a stored record is missing") from None
        if hashlib.sha256(payload).hexdigest() != item[digest_attr]["S"]:
            raise StoredResponseUnreadable("the parts of a stored record do not match its digest")
        return payload

    def _recorded_destinations(self, item: dict[str, Any]) -> bytes | None:
        """The destinations an earlier execution recorded in `item` (record_destinations), inline or spilled."""
        if DESTINATIONS_PARTS_ATTR in item:
            return self._read_parts(item, DESTINATIONS_PART_SUFFIX)
        recorded = item.get(DESTINATIONS_ATTR)
        return bytes(recorded["B"]) if recorded else None

    def _save_to_cache(self, data_record: DataRecord) -> None:
        # The container's cache keeps small answers only: 256 bulk answers of 500 KB would fill the memory.
        if len(data_record.response_data or "") <= INLINE_RESPONSE_BYTES:
            super()._save_to_cache(data_record)


def _only_manifests_failed(error: ClientError) -> bool:
    """Whether a completion transaction failed on its manifests alone: a missing table (the record's table
    has just taken the claim), or a cancellation whose reason for the record's update (the first item) is
    None. Throttling, 5xx and timeouts hit the whole transaction: the completion failed."""
    code = error.response.get("Error", {}).get("Code")
    if code == "ResourceNotFoundException":
        return True
    reasons = error.response.get("CancellationReasons") or []
    return code == "TransactionCanceledException" and bool(reasons) and reasons[0].get("Code") in (None, "None")


def _part_key(idempotency_key: str, number: int, suffix: str = RESPONSE_PART_SUFFIX) -> str:
    """A part's key: never a record's, since Powertools' keys end in a hash with no '#'."""
    return f"{idempotency_key}{suffix}{number}"


@per_container
def idempotency_store(api: str) -> RequestExpiryDynamoDBPersistenceLayer:
    """One persistence layer per API per container (Powertools configures a layer once)."""
    return RequestExpiryDynamoDBPersistenceLayer(
        table_name=get_settings().idempotency_table,
        boto3_client=client("dynamodb"),
    )
