"""Suppressions (docs/contract.md section 8): Fyno's list API, and the check that keeps a suppressed destination
from being sent to, at the door (its notification is `skipped`, reason `suppressed`, never queued) and by the
sender at send time (a suppression added after the request was accepted still stops the send).

Scoped per workspace (live and test alike, as Fyno's route has no version). A notification is suppressed when
its (channel, destination) is, or its recipient's (channel, distinct_id). An entry whose `expiry_ts` passed
suppresses nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from notify.dal.suppressions import (
    SuppressionItem,
    active_suppressions,
    delete_suppression,
    destination_entry,
    distinct_id_entry,
    list_suppressions,
    put_suppression,
    suppression_id,
)
from notify.errors import ProfileRefused, RequestValidationError, ServiceUnavailable
from notify.logic.responses import JSON, StoredResponse
from notify.models.channels import Channel
from notify.models.messages import NotificationMessage
from notify.models.suppressions import InvalidDestination, Suppression, SuppressionCreate, checked_destination
from notify.observability import count, logger
from notify.timestamps import iso_utc

ADDED = "User has been added to the suppression!"
REMOVED = "User has been removed from the suppression!"
NOT_SUPPRESSED = "No suppression matches"
# The reason on the status route and in the answer; the description says why the entry exists.
SUPPRESSED = "suppressed"


def _unavailable(exc: Exception) -> ServiceUnavailable:
    logger.error("suppressions unreachable", extra={"error": str(exc)})
    return ServiceUnavailable()


def _answer(status_code: int, body: Any) -> StoredResponse:
    body_text = json.dumps(body, separators=(",", ":"))
    return {"statusCode": status_code, "headers": {"Content-Type": JSON}, "body": body_text}


def add(workspace: str, request: SuppressionCreate, *, now: float | None = None) -> StoredResponse:
    """`POST /v1/{workspace}/suppressions`: 200 once stored (adding it again rewrites the same entry)."""
    if request.destination is not None:
        try:
            checked_destination(request.channel, request.destination)
        except InvalidDestination as exc:
            raise RequestValidationError(str(exc), errors=[{"field": "destination", "message": exc.problem}]) from exc
    suppress(
        workspace,
        request.channel,
        destination=request.destination,
        distinct_id=request.distinct_id,
        description=request.description,
        expires_at=request.expires_at(),
        now=now,
    )
    return _answer(200, {"status": "ok", "_message": ADDED})  # Fyno's answer, key order included


def suppress(
    workspace: str,
    channel: Channel,
    *,
    destination: str | None = None,
    distinct_id: str | None = None,
    description: str | None = None,
    expires_at: int | None = None,
    now: float | None = None,
) -> None:
    """Store one suppression (the API's, or a hard bounce's or complaint's); a store unreachable is a 503."""
    if destination is not None:
        entry = destination_entry(channel.value, destination)
    elif distinct_id is not None:
        entry = distinct_id_entry(channel.value, distinct_id)
    else:
        raise ValueError("a suppression needs a destination or a distinct_id")
    item = SuppressionItem(
        id=suppression_id(workspace, entry),
        channel=channel.value,
        destination=destination,
        distinct_id=distinct_id,
        description=description,
        created_at=iso_utc(),
        expires_at=expires_at,
    )
    try:
        put_suppression(workspace, entry, item)
    except (BotoCoreError, ClientError) as exc:
        raise _unavailable(exc) from exc
    count("SuppressionsAdded")
    logger.info("suppression added", extra={"workspace": workspace, "channel": channel.value, "id": item.id})


def _shown(item: SuppressionItem) -> dict[str, Any]:
    return Suppression(
        id=item.id,
        destination=item.destination,
        distinct_id=item.distinct_id,
        channel=Channel(item.channel),
        description=item.description,
        created_at=item.created_at,
        expiry_ts=None if item.expires_at is None else iso_utc(datetime.fromtimestamp(item.expires_at, UTC)),
    ).body()


def listed(workspace: str) -> StoredResponse:
    """`GET /v1/{workspace}/suppressions`: every entry in force, oldest first."""
    now = time.time()
    try:
        items = [item for _, item in list_suppressions(workspace) if not item.expired(now)]
    except (BotoCoreError, ClientError) as exc:
        raise _unavailable(exc) from exc
    return _answer(200, [_shown(item) for item in sorted(items, key=lambda item: (item.created_at, item.id))])


def remove(workspace: str, query: dict[str, str]) -> StoredResponse:
    """`DELETE /v1/{workspace}/suppressions?_id=|distinct_id=|destination=` (and `channel=` to narrow it): every
    matching entry is removed; none matching is a 400 that changes nothing."""
    wanted = {name: query[name] for name in ("_id", "distinct_id", "destination", "channel") if query.get(name)}
    if not wanted.keys() & {"_id", "distinct_id", "destination"}:
        raise RequestValidationError(
            "Give one of the query parameters _id, distinct_id or destination",
            errors=[{"field": "query", "message": "one of _id, distinct_id, destination is required"}],
        )
    if any(len(value) > 2048 for value in wanted.values()):
        raise RequestValidationError(
            "A query parameter is longer than 2048 characters",
            errors=[{"field": "query", "message": "must be at most 2048 characters"}],
        )

    def matches(item: SuppressionItem) -> bool:
        if "_id" in wanted and item.id != wanted["_id"]:
            return False
        if "distinct_id" in wanted and item.distinct_id != wanted["distinct_id"]:
            return False
        if "channel" in wanted and item.channel != wanted["channel"]:
            return False
        if "destination" in wanted:
            given = wanted["destination"].strip()
            stored = (item.destination or "").strip()
            return stored.lower() == given.lower() if item.channel == "email" else stored == given
        return True

    try:
        entries = [entry for entry, item in list_suppressions(workspace) if matches(item)]
        for entry in entries:
            delete_suppression(workspace, entry)
    except (BotoCoreError, ClientError) as exc:
        raise _unavailable(exc) from exc
    if not entries:
        raise ProfileRefused(NOT_SUPPRESSED)
    logger.info("suppressions removed", extra={"workspace": workspace, "removed": len(entries)})
    return _answer(200, {"status": "ok", "_message": REMOVED})


def _entries(message: NotificationMessage) -> list[str]:
    entries = [destination_entry(message.channel.value, message.destination)]
    if message.distinct_id is not None:
        entries.append(distinct_id_entry(message.channel.value, message.distinct_id))
    return entries


def suppression_reason(item: SuppressionItem) -> str:
    return f"{SUPPRESSED}: {item.description}" if item.description else SUPPRESSED


def suppressed_reasons(workspace: str, messages: Sequence[NotificationMessage]) -> dict[str, str]:
    """msg_id -> reason for each of `messages` (one request's, at the door) the workspace suppresses; one
    BatchGetItem per 100 entries. A store unreachable is a 503: nothing is stored or queued."""
    if not messages:
        return {}
    try:
        found = active_suppressions(workspace, (entry for message in messages for entry in _entries(message)))
    except (BotoCoreError, ClientError, RuntimeError) as exc:
        raise _unavailable(exc) from exc
    reasons = {}
    for message in messages:
        hit = next((found[entry] for entry in _entries(message) if entry in found), None)
        if hit is not None:
            reasons[message.msg_id] = suppression_reason(hit)
    if reasons:
        count("NotificationsSuppressed", len(reasons))
    return reasons


def suppressed_at_send(message: NotificationMessage) -> str | None:
    """The reason the sender must not send `message` now, or None. Raises the store's error (the sender
    retries the message: an unreadable list never lets a suppressed destination through)."""
    found = active_suppressions(message.workspace, _entries(message))
    hit = next((found[entry] for entry in _entries(message) if entry in found), None)
    return None if hit is None else suppression_reason(hit)
