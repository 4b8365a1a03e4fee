"""Powertools' DynamoDB idempotency persistence, with one request's claim made explicit (`Claim`), a per-request
expiry (R6), responses of any size (R3, notify.dal.spilled_parts) and the request's manifests written in the
completion's transaction.

A request's `Claim` travels in the `data` Powertools hands its persistence layer (under "claim"): the layer
serves concurrent requests (threads in tests and in the local stack), so what one request claimed cannot live on
the layer. Powertools overridden here, checked against aws-lambda-powertools 3.37.0: `save_inprogress` and
`save_success` (re-implemented, to pass the claim on and keep the request's fingerprint, M2),
`_item_to_data_record` (to make a compressed or spilled answer whole) and `_save_to_cache` (to keep large
answers out of the container's cache).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.shared.json_encoder import Encoder
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord
from botocore.exceptions import ClientError

from notify.caches import per_container
from notify.dal import spilled_parts
from notify.dal.clients import client
from notify.dal.delivery_log import KeptManifests
from notify.errors import QueueingRetried
from notify.observability import logger
from notify.settings import get_settings

RECEIVED_ATTR = "received_ms"
DESTINATIONS_ATTR = "destinations_zlib"
DESTINATIONS_PARTS_ATTR = "destinations_parts"
DESTINATIONS_DIGEST_ATTR = "destinations_sha256"
DESTINATIONS_PART_SUFFIX = "#dest"
RESPONSE_PART_SUFFIX = "#part"
ENCODING_ATTR = "response_encoding"  # absent (a plain string), "zlib", or "zlib-parts"
PARTS_ATTR = "response_parts"
DIGEST_ATTR = "response_sha256"
# The request's fingerprint (M1): Powertools' own validation attribute, read back into DataRecord.payload_hash.
FINGERPRINT_ATTR = "validation"


@dataclass(frozen=True)
class StoredRecord:
    """What a key holds now, as the lookup route shows it (K1): read, never claimed or extended."""

    status: str  # Powertools' INPROGRESS or COMPLETED
    expiry: int  # epoch seconds
    received_ms: int | None
    response_data: str | None  # the stored response (JSON of statusCode, headers, body), whole again


@dataclass
class Claim:
    """One request's claim on its key, from the claim to the completion.

    notify.logic.idempotency makes one per keyed request and hands it to Powertools inside `data`; the persistence
    layer fills it when it claims the key, and whoever records something in the claimed record is passed it.
    """

    # What the client asked for (`x-idempotency-expiration`, epoch seconds; R6).
    requested_expiry: int | None = None
    # The expiry of the key lifetime claimed: the same for every execution of one key until it expires, and later
    # for a key reused after that; the request's ids derive from it (R8). None before the claim.
    expiry: int | None = None
    # When that lifetime was first claimed (epoch ms): a re-execution answers the first execution's received_time.
    received_ms: int | None = None
    # The destinations an earlier execution of the key recorded (record_destinations), found when this request took
    # its lapsed claim over; None otherwise.
    recorded_destinations: bytes | None = None
    # The request's manifests, kept back for the completion's transaction.
    manifests: KeptManifests = field(default_factory=KeptManifests)
    # Where the claimed record is (its layer and hashed key), once claimed.
    store: RequestExpiryDynamoDBPersistenceLayer | None = None
    key: str | None = None
    # The request's fingerprint (M2: SHA-256 of its body's canonical JSON), kept in the record from the first claim.
    fingerprint: str | None = None
    # Whether a key reused with another fingerprint is refused (M1, the workspace's mode); asked only then.
    refuses_changed_request: Callable[[], bool] = field(default=lambda: False)
    # The hashed key as the layer that hashed it made it (its prefix with it): Powertools hashes a request's data
    # twice on a replay (the claim, then the stored record's lookup), and once is enough.
    hashed_key: tuple[int, str, str] | None = None
    # Whether this request took over a lapsed claim: an earlier execution of the key ran, and may have answered.
    taken_over: bool = False

    def __deepcopy__(self, memo: dict[int, Any]) -> Claim:
        # Powertools deep-copies `data` before handing it on; the claim must stay the request's one object.
        return self


def _claim_of(data: dict[str, Any]) -> Claim:
    """The request's Claim in Powertools' `data`; a fresh one where the caller passes none."""
    claim = data.get("claim")
    if not isinstance(claim, Claim):
        claim = Claim()
    if claim.requested_expiry is None:
        claim.requested_expiry = data.get("expires_at")
    return claim


def record_destinations(claim: Claim, payload: bytes) -> None:
    """Keep the recipients' destinations (resolved from profiles) in the claimed record before anything is sent,
    so a re-execution after a crash sends and answers the same ones whatever the profiles say by then (R8).
    Past DESTINATIONS_INLINE_BYTES they are spilled into part items first, as a large answer is: the record
    must still hold its answer (up to PART_BYTES) within one 400 KB item."""
    layer, key = claim.store, claim.key
    if layer is None or key is None:
        raise RuntimeError("no claimed idempotency record to record destinations in")
    names = {"#status": layer.status_attr, "#destinations": DESTINATIONS_ATTR, "#parts": DESTINATIONS_PARTS_ATTR}
    values: dict[str, Any] = {":inprogress": {"S": STATUS_CONSTANTS["INPROGRESS"]}}
    if len(payload) <= spilled_parts.DESTINATIONS_INLINE_BYTES:
        assignments = "SET #destinations = :destinations REMOVE #parts"
        values[":destinations"] = {"B": payload}
    else:
        count = spilled_parts.write_parts(layer, key, DESTINATIONS_PART_SUFFIX, payload, claim.expiry or 0)
        assignments = "SET #parts = :parts, #digest = :digest REMOVE #destinations"
        names["#digest"] = DESTINATIONS_DIGEST_ATTR
        values.update({":parts": {"N": str(count)}, ":digest": {"S": spilled_parts.digest(payload)}})
    layer.client.update_item(
        TableName=layer.table_name,
        Key=layer._get_key(key),
        UpdateExpression=assignments,
        ConditionExpression="#status = :inprogress",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )
    claim.recorded_destinations = payload


class RequestExpiryDynamoDBPersistenceLayer(DynamoDBPersistenceLayer):
    """Records expire at the request's requested expiry (epoch seconds) when it has one, else after the default.

    The expiry is set once per key lifetime: by the claim that finds no live record. A later claim that takes
    over a lapsed INPROGRESS record (a crash, a timeout) keeps it, and so does the completion, so the first
    request's expiry stays final until it passes (R6) and names the lifetime (`Claim.expiry`), from which
    the request's ids derive (R8).
    """

    def _get_hashed_idempotency_key(self, data: dict[str, Any]) -> str | None:
        """Powertools' hashed key, kept in the request's Claim: a request's key is hashed once."""
        claim = data.get("claim") if isinstance(data, dict) else None
        if not isinstance(claim, Claim):
            return super()._get_hashed_idempotency_key(data=data)
        if claim.hashed_key is not None and claim.hashed_key[:2] == (id(self), self.function_name):
            return claim.hashed_key[2]
        hashed = super()._get_hashed_idempotency_key(data=data)
        if hashed is not None:
            claim.hashed_key = (id(self), self.function_name, hashed)
        return hashed

    def hashed_key(self, scoped_key: list[str]) -> str:
        """The hashed key of a request whose data's `event_key_jmespath` selects `scoped_key` (the API's
        `[workspace, api, key]`), as Powertools makes it, without the query: a replay from the container's cache."""
        return f"{self.function_name}#{self._generate_hash(data=scoped_key)}"

    def _expiry(self, claim: Claim) -> int:
        return claim.expiry or claim.requested_expiry or self._get_expiry_timestamp()

    def _record(
        self, data: dict[str, Any], status: str, response: dict | None = None
    ) -> tuple[DataRecord, Claim] | None:
        """Powertools' DataRecord for `data` and the request's Claim, as Powertools builds it; None without a key."""
        claim = _claim_of(data)
        idempotency_key = self._get_hashed_idempotency_key(data=data)
        if idempotency_key is None:
            return None
        record = DataRecord(
            idempotency_key=idempotency_key,
            status=STATUS_CONSTANTS[status],
            expiry_timestamp=self._expiry(claim),
            response_data=json.dumps(response, cls=Encoder, sort_keys=True) if response is not None else "",
            # The request's fingerprint (M2), so the container's cache can refuse a changed request too (M1).
            payload_hash=claim.fingerprint or "",
        )
        return record, claim

    def save_inprogress(self, data: dict[str, Any], remaining_time_in_millis: int | None = None) -> None:
        """Powertools' save_inprogress (3.37.0), claiming with the request's Claim."""
        made = self._record(data, "INPROGRESS")
        if made is None:
            return
        record, claim = made
        # As Powertools: 0 ms left (Lambda killing the container) is a deadline too.
        if remaining_time_in_millis is not None:
            deadline = dt.datetime.now() + dt.timedelta(milliseconds=remaining_time_in_millis)
            record.in_progress_expiry_timestamp = int(deadline.timestamp() * 1000)
        cached = self._retrieve_from_cache(idempotency_key=record.idempotency_key)
        if cached:
            _refuse_a_changed_request(cached, claim)
            # Handed on, as a refused claim's record is: Powertools then replays it without looking it up again.
            raise IdempotencyItemAlreadyExistsError(old_data_record=cached)
        self._claim(record, claim)

    def delete_record(self, data: dict[str, Any], exception: Exception) -> None:
        """Powertools' delete_record (3.37.0) when a request is refused, except for a re-execution whose queueing
        failed: its claim is kept (it lapses with the invocation), so the retry re-executes under the same ids."""
        if isinstance(exception, QueueingRetried):
            logger.warning("claim kept for a retry", extra={"reason": "queueing failed on a re-execution"})
            return
        super().delete_record(data, exception)

    def save_success(self, data: dict[str, Any], result: dict) -> None:
        """Powertools' save_success (3.37.0), completing with the request's Claim."""
        made = self._record(data, "COMPLETED", result)
        if made is None:
            return
        record, claim = made
        self._complete(record, claim)
        self._save_to_cache(data_record=record)

    def _claim(self, data_record: DataRecord, claim: Claim) -> None:
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
        if claim.fingerprint:
            # From the first request on, in both modes, so switching a workspace to strict needs no migration (M2).
            item[FINGERPRINT_ATTR] = {"S": claim.fingerprint}
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
            _refuse_a_changed_request(old, claim)  # before a replay, a 409 or a take-over (M1)
            # A lapsed claim is taken over by the same request only: its first execution may have answered a 202
            # it could not store, and another body re-executed under the same ids would be a second answer.
            if not self._lapsed_in_progress(old) or _changed(old, claim) or not self._take_over(data_record):
                self._save_to_cache(data_record=old)
                raise IdempotencyItemAlreadyExistsError(old_data_record=old) from exc
            received = earlier.get(RECEIVED_ATTR)
            claim.taken_over = True
            claim.expiry = old.expiry_timestamp
            claim.received_ms = int(received["N"]) if received else None
            claim.recorded_destinations = self._recorded_destinations(earlier)
        else:
            claim.expiry = data_record.expiry_timestamp
            claim.received_ms = now_ms
            claim.recorded_destinations = None
        claim.store, claim.key = self, data_record.idempotency_key

    def read_record(self, idempotency_key: str) -> StoredRecord | None:
        """The live record of a hashed key, one consistent GetItem (and its parts if the answer was spilled); None
        when there is none or it expired (TTL deletes lazily). Never claims, executes or extends anything (K1)."""
        try:
            item = self._read_item(idempotency_key)
        except IdempotencyItemNotFoundError:
            return None
        if int(item[self.expiry_attr]["N"]) < int(time.time()):
            return None  # expired, not yet deleted by TTL: nothing, as for a claim (R6)
        record = self._item_to_data_record(item)
        received = item.get(RECEIVED_ATTR)
        return StoredRecord(
            status=record.status,
            expiry=int(record.expiry_timestamp or 0),
            received_ms=int(received["N"]) if received else None,
            response_data=record.response_data,
        )

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

    def _take_over(self, data_record: DataRecord) -> bool:
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

    def _complete(self, data_record: DataRecord, claim: Claim) -> None:
        """Complete the record; a response past INLINE_RESPONSE_BYTES is compressed, and spilled if need be.

        The request manifests the claim kept back go in the same TransactWriteItems: one call completes the record
        and makes the request visible to the status route. A cancelled transaction writes neither, and fails like
        a failed update.
        """
        names = {"#expiry": self.expiry_attr, "#status": self.status_attr, "#response_data": self.data_attr}
        values: dict[str, Any] = {
            ":expiry": {"N": str(data_record.expiry_timestamp)},
            ":status": {"S": data_record.status},
        }
        response = data_record.response_data or ""
        if len(response.encode()) <= spilled_parts.INLINE_RESPONSE_BYTES:
            assignments = "#response_data = :response_data"
            values[":response_data"] = {"S": response}
        else:
            assignments = self._compressed_assignments(data_record, response, names, values)
        update = {
            "TableName": self.table_name,
            "Key": self._get_key(data_record.idempotency_key),
            "UpdateExpression": f"SET #expiry = :expiry, #status = :status, {assignments}",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        manifests = claim.manifests.puts()
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
            claim.manifests.write()
            self.client.update_item(**update)
        else:
            claim.manifests.clear()

    def _compressed_assignments(
        self, data_record: DataRecord, response: str, names: dict[str, str], values: dict[str, Any]
    ) -> str:
        """The compressed response inline, or spilled into part items written now (before the completion)."""
        compressed = spilled_parts.compress(response)
        names["#encoding"] = ENCODING_ATTR
        if len(compressed) <= spilled_parts.PART_BYTES:
            values.update({":response_data": {"B": compressed}, ":encoding": {"S": "zlib"}})
            return "#response_data = :response_data, #encoding = :encoding"
        del names["#response_data"]
        count = spilled_parts.write_parts(
            self, data_record.idempotency_key, RESPONSE_PART_SUFFIX, compressed, data_record.expiry_timestamp or 0
        )
        names.update({"#parts": PARTS_ATTR, "#digest": DIGEST_ATTR})
        values.update(
            {
                ":encoding": {"S": "zlib-parts"},
                ":parts": {"N": str(count)},
                ":digest": {"S": spilled_parts.digest(compressed)},
            }
        )
        return "#encoding = :encoding, #parts = :parts, #digest = :digest"

    def _item_to_data_record(self, item: dict[str, Any]) -> DataRecord:
        """Powertools' record, with a compressed or spilled response made whole again."""
        encoding = item.get(ENCODING_ATTR, {}).get("S")
        if encoding == "zlib":
            item = {**item, self.data_attr: {"S": spilled_parts.decompress(item[self.data_attr]["B"])}}
        elif encoding == "zlib-parts":
            compressed = self._read_parts(item, RESPONSE_PART_SUFFIX, PARTS_ATTR, DIGEST_ATTR)
            item = {**item, self.data_attr: {"S": spilled_parts.decompress(compressed)}}
        return super()._item_to_data_record(item)

    def _read_parts(self, item: dict[str, Any], suffix: str, count_attr: str, digest_attr: str) -> bytes:
        key = item[self.sort_key_attr or self.key_attr]["S"]
        return spilled_parts.read_parts(self, key, suffix, int(item[count_attr]["N"]), item[digest_attr]["S"])

    def _recorded_destinations(self, item: dict[str, Any]) -> bytes | None:
        """The destinations an earlier execution recorded in `item` (record_destinations), inline or spilled."""
        if DESTINATIONS_PARTS_ATTR in item:
            return self._read_parts(item, DESTINATIONS_PART_SUFFIX, DESTINATIONS_PARTS_ATTR, DESTINATIONS_DIGEST_ATTR)
        recorded = item.get(DESTINATIONS_ATTR)
        return bytes(recorded["B"]) if recorded else None

    def _save_to_cache(self, data_record: DataRecord) -> None:
        # The container's cache keeps small answers only: 256 bulk answers of 500 KB would fill the memory.
        if len(data_record.response_data or "") <= spilled_parts.INLINE_RESPONSE_BYTES:
            super()._save_to_cache(data_record)


def _changed(stored: DataRecord, claim: Claim) -> bool:
    """Whether the record holds another request's fingerprint (one without, written before they were kept, is not
    compared)."""
    return bool(claim.fingerprint and stored.payload_hash and stored.payload_hash != claim.fingerprint)


def _refuse_a_changed_request(stored: DataRecord, claim: Claim) -> None:
    """Strict mode (M1): a key whose record holds another request's fingerprint is refused, the record untouched.
    A record without one (written before fingerprints were kept) is not compared; the workspace's mode is read
    only when the fingerprints differ, so a replay of the same body costs nothing more."""
    if _changed(stored, claim) and claim.refuses_changed_request():
        # Powertools lets its validation error through as it is (any other would become a persistence error).
        raise IdempotencyValidationError("Idempotency-Key reused with a different request")


def _only_manifests_failed(error: ClientError) -> bool:
    """Whether a completion transaction failed on its manifests alone: a missing table (the record's table
    has just taken the claim), or a cancellation whose reason for the record's update (the first item) is
    None. Throttling, 5xx and timeouts hit the whole transaction: the completion failed."""
    code = error.response.get("Error", {}).get("Code")
    if code == "ResourceNotFoundException":
        return True
    reasons = error.response.get("CancellationReasons") or []
    return code == "TransactionCanceledException" and bool(reasons) and reasons[0].get("Code") in (None, "None")


SEND_KEY_PREFIX = "send"


def send_guard_id(msg_id: str) -> str:
    """The id of a msg_id's guard as the sender kept it in this table before the guard moved into the delivery log
    item (Powertools' prefix#sha256 of the msg_id)."""
    return f"{SEND_KEY_PREFIX}#{hashlib.sha256(json.dumps(msg_id).encode()).hexdigest()}"


def read_send_guard(msg_id: str) -> tuple[str, dict[str, Any] | None] | None:
    """A live guard an earlier sender kept for `msg_id` (one consistent GetItem): its status (INPROGRESS or
    COMPLETED) and, completed, the outcome it stored; None when there is none or it expired. Never written now:
    notify.logic.sender honours these until they expire (they outlive every copy of their message)."""
    item = (
        client("dynamodb")
        .get_item(
            TableName=get_settings().idempotency_table, Key={"id": {"S": send_guard_id(msg_id)}}, ConsistentRead=True
        )
        .get("Item")
    )
    if item is None or int(item.get("expiration", {}).get("N", "0")) < int(time.time()):
        return None
    status = item.get("status", {}).get("S", "")
    data = item.get("data", {}).get("S")
    return status, (json.loads(data) if status == STATUS_CONSTANTS["COMPLETED"] and data else None)


@per_container
def idempotency_store(api: str) -> RequestExpiryDynamoDBPersistenceLayer:
    """One persistence layer per API per container (Powertools configures a layer once)."""
    return RequestExpiryDynamoDBPersistenceLayer(
        table_name=get_settings().idempotency_table,
        boto3_client=client("dynamodb"),
    )
