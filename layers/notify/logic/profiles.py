"""Profiles API (docs/contract.md section 6): Fyno's routes, bodies and messages, word for word.

Every change reads the profile, computes the new one, and writes it conditionally on the revision it read
(notify.dal.profiles); a concurrent change makes the write fail and the request start over from a fresh read,
so no destination is ever lost. Sending the same PUT, PATCH or delete twice leaves the same state.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from notify.dal.clients import map_in_parallel
from notify.dal.profiles import (
    ProfileChanged,
    ProfileExists,
    create_profile,
    delete_profile,
    get_profile,
    move_profile,
    replace_profile,
)
from notify.deadline import seconds_left
from notify.errors import ProfileRefused, RequestValidationError, ServiceUnavailable
from notify.logic.responses import StoredResponse, stored_response
from notify.models.limits import MAX_DISTINCT_ID_CHARACTERS, key_name_problem
from notify.models.profiles import (
    MAX_TOKENS,
    TOKEN_CHANNELS,
    ChannelDelete,
    ChannelPatch,
    Profile,
    ProfileChannels,
    ProfileCreate,
    ProfilesDelete,
    ProfileUpdate,
    Token,
)
from notify.models.responses import ProfileOk
from notify.observability import count, logger
from notify.timestamps import iso_utc

# Fyno's messages (docs/contract.md section 6).
CREATED = "Profile created successfully"
UPDATED = "1 Record(s) updated successfully"
CHANNEL_MODIFIED = "Channel has been modified successfully"
MERGED = "1 Record(s) updated and 1 Records(s) deleted"
NO_SUCH_PROFILE = "incorrect/non existing distinct_id provided"
CANNOT_UPDATE = "Unable to update the record since the record does not exist"
NO_SUCH_CHANNEL = "Unable to delete channel since the channel does not exist"
NO_MERGE_SOURCE = "merge from id does not exist"
NOTHING_TO_DELETE = "Cannot delete non existing user"

# Conditional writes that lost to a concurrent change are retried from a fresh read, after a jittered pause
# that doubles up to a cap, this many times at most, and never once less than a second of the budget is left.
WRITE_ATTEMPTS = 20
RETRY_PAUSE_SECONDS = 0.005
RETRY_PAUSE_CAP_SECONDS = 0.2
PARALLEL_DELETES = 8

T = TypeVar("T")


def already_exists(distinct_id: str, version: str) -> ProfileRefused:
    return ProfileRefused(f"Distinct ID '{distinct_id}' already exists in the '{version}' version of your workspace")


def ok(message: str, status_code: int = 200) -> StoredResponse:
    return stored_response(status_code, ProfileOk(message=message, status="ok"))


def path_distinct_id(raw: str, field: str = "distinct_id") -> str:
    """A distinct_id from the path, percent-decoded and bounded as in a body (a 400 naming it otherwise)."""
    value = unquote(raw)
    problem = key_name_problem(value, MAX_DISTINCT_ID_CHARACTERS)
    if problem is not None:
        raise RequestValidationError(f"Invalid {field}: {problem}", errors=[{"field": field, "message": problem}])
    return value


def _store(action: Callable[[], T]) -> T:
    """Run a profile change: the table unreachable is a 503 (nothing changed, retry)."""
    try:
        return action()
    except (BotoCoreError, ClientError) as exc:
        logger.error("profiles table unreachable", extra={"error": str(exc)})
        raise ServiceUnavailable() from exc


def _with_retries(change: Callable[[], T]) -> T:
    """`change` reads, computes and writes conditionally; it starts over when a concurrent write won."""
    for attempt in range(WRITE_ATTEMPTS):
        try:
            return _store(change)
        except ProfileChanged:
            count("ProfileWriteConflict")
        left = seconds_left()
        if left is not None and left < 1.0:
            break
        # Full jitter: racers that lost together do not retry together (nothing security-related here).
        time.sleep(random.uniform(0, min(RETRY_PAUSE_CAP_SECONDS, RETRY_PAUSE_SECONDS * 2**attempt)))  # noqa: S311  # nosec B311
    logger.error("profile kept changing", extra={"attempts": WRITE_ATTEMPTS})
    raise ServiceUnavailable()


def create(workspace: str, version: str, body: ProfileCreate) -> StoredResponse:
    now = iso_utc()
    profile = Profile(
        distinct_id=body.distinct_id,
        name=body.name,
        status=body.status,
        timezone=body.timezone,
        channel=body.channel,
        created_at=now,
        updated_at=now,
        version=version,  # live or test: the auth middleware refused any other
    )
    try:
        _store(lambda: create_profile(workspace, profile))
    except ProfileExists:
        raise already_exists(body.distinct_id, version) from None
    return ok(CREATED, 201)


def read(workspace: str, version: str, distinct_id: str) -> StoredResponse:
    found = _store(lambda: get_profile(workspace, version, distinct_id))
    if found is None:
        raise ProfileRefused(NO_SUCH_PROFILE)
    return stored_response(200, found[0])


def replace(workspace: str, version: str, distinct_id: str, body: ProfileUpdate) -> StoredResponse:
    """The keys given replace theirs; a new `distinct_id` renames (one transaction: old deleted, new written)."""
    given = body.model_fields_set

    def change() -> None:
        found = get_profile(workspace, version, distinct_id)
        if found is None:
            raise ProfileRefused(CANNOT_UPDATE)
        current, revision = found
        updates: dict[str, Any] = {name: getattr(body, name) for name in ("name", "timezone") if name in given}
        if "status" in given and body.status is not None:
            updates["status"] = body.status
        if "channel" in given:
            updates["channel"] = body.channel or ProfileChannels()
        renamed = body.distinct_id is not None and body.distinct_id != distinct_id
        if renamed:
            updates["distinct_id"] = body.distinct_id
        updated = current.model_copy(update={**updates, "updated_at": iso_utc()})
        if not renamed:
            replace_profile(workspace, updated, revision)
            return
        try:
            move_profile(workspace, distinct_id, revision, updated, None)
        except ProfileExists:
            raise already_exists(updated.distinct_id, version) from None

    _with_retries(change)
    return ok(UPDATED)


def _add_tokens(existing: list[Token] | None, added: list[Token]) -> list[Token]:
    """Tokens united by value: a known token takes the new integration_id and status, in its place."""
    by_token = {token.token: token for token in existing or []}
    for token in added:
        by_token[token.token] = token
    return list(by_token.values())


def _bounded(channel: str, tokens: list[Token]) -> list[Token]:
    if len(tokens) > MAX_TOKENS:
        message = f"a profile holds at most {MAX_TOKENS} {channel} tokens; delete some first"
        raise RequestValidationError(
            f"Invalid request body: channel.{channel}: {message}",
            errors=[{"field": f"channel.{channel}", "message": message}],
        )
    return tokens


def _change_channels(
    workspace: str, version: str, distinct_id: str, edit: Callable[[ProfileChannels], ProfileChannels]
) -> None:
    """Reads the profile, `edit`s a copy of its channels (raising to refuse) and writes them back on condition that
    nobody wrote since; starts over when somebody did."""

    def change() -> None:
        found = get_profile(workspace, version, distinct_id)
        if found is None:
            raise ProfileRefused(NO_SUCH_PROFILE)
        current, revision = found
        channels = edit(current.channel.model_copy())
        replace_profile(workspace, current.model_copy(update={"channel": channels, "updated_at": iso_utc()}), revision)

    _with_retries(change)


def patch_channels(workspace: str, version: str, distinct_id: str, body: ChannelPatch) -> StoredResponse:
    """Single destinations are replaced, tokens added (deduplicated by value, at most MAX_TOKENS a channel)."""

    def edit(channels: ProfileChannels) -> ProfileChannels:
        for name, value in body.channel:
            if value is None:
                continue
            if name in TOKEN_CHANNELS:
                value = _bounded(name, _add_tokens(getattr(channels, name), value))
            setattr(channels, name, value)
        return channels

    _change_channels(workspace, version, distinct_id, edit)
    return ok(UPDATED)


def delete_channels(workspace: str, version: str, distinct_id: str, body: ChannelDelete) -> StoredResponse:
    """Whole channels (every destination of each), or the named tokens; 400 when none of them is there."""

    def edit(channels: ProfileChannels) -> ProfileChannels:
        removed = False
        for name in body.channel or []:
            if getattr(channels, name.value) is not None:
                setattr(channels, name.value, None)
                removed = True
        for name in TOKEN_CHANNELS:
            unwanted = set(getattr(body, name.value) or [])
            tokens = getattr(channels, name.value) or []
            kept = [token for token in tokens if token.token not in unwanted]
            if len(kept) != len(tokens):
                setattr(channels, name.value, kept or None)
                removed = True
        if not removed:
            raise ProfileRefused(NO_SUCH_CHANNEL)
        return channels

    _change_channels(workspace, version, distinct_id, edit)
    return ok(CHANNEL_MODIFIED)


def merged_channels(source: ProfileChannels, target: ProfileChannels) -> ProfileChannels:
    """The target's single destinations win; tokens are united (the target's version of a shared token wins)."""
    result = target.model_copy()
    for name, value in source:
        if value is None:
            continue
        if name in TOKEN_CHANNELS:
            setattr(result, name, _bounded(name, _add_tokens(value, getattr(target, name) or [])))
        elif getattr(target, name) is None:
            setattr(result, name, value)
    return result


def merge(workspace: str, version: str, source_id: str, target_id: str) -> StoredResponse:
    """The source's destinations merge into the target and the source is deleted, in one transaction; an unknown
    target: the source is renamed to it."""
    if source_id == target_id:
        message = "the profile to merge from and the one to merge into must differ"
        raise RequestValidationError(f"Invalid merge: {message}", errors=[{"field": "target", "message": message}])

    def change() -> None:
        found = get_profile(workspace, version, source_id)
        if found is None:
            raise ProfileRefused(NO_MERGE_SOURCE)
        source, source_revision = found
        into = get_profile(workspace, version, target_id)
        now = iso_utc()
        if into is None:
            renamed = source.model_copy(update={"distinct_id": target_id, "updated_at": now})
            try:
                move_profile(workspace, source_id, source_revision, renamed, None)
            except ProfileExists as exc:
                raise ProfileChanged(target_id) from exc  # created meanwhile: merge into it instead
            return
        target, target_revision = into
        result = target.model_copy(
            update={"channel": merged_channels(source.channel, target.channel), "updated_at": now}
        )
        move_profile(workspace, source_id, source_revision, result, target_revision)

    _with_retries(change)
    return ok(MERGED)


def delete_many(workspace: str, version: str, body: ProfilesDelete) -> StoredResponse:
    """Delete each named profile; 400 when none of them existed."""
    ids = list(dict.fromkeys(body.distinct_id))
    deleted = _store(
        lambda: map_in_parallel(
            lambda distinct_id: delete_profile(workspace, version, distinct_id), ids, PARALLEL_DELETES
        )
    )
    removed = sum(deleted)
    if not removed:
        raise ProfileRefused(NOTHING_TO_DELETE)
    return ok(f"{removed} User(s) deleted successfully")
