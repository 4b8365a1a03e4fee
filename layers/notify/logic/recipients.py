"""Where each recipient's notifications go: `to`, and for a `distinct_id` its profile (docs/contract.md section 6).

For each channel the event defines, the destination is the one `to` gives, else the profile's. A recipient
with a `distinct_id` has its profile read even when `to` gives every channel: an inactive profile (status 0)
gets nothing, whatever `to` says, and its notifications are recorded `skipped` with the reason. A recipient
without a `distinct_id` needs no profile, and none is read (no AWS call).

Resolution runs inside the claimed section of a keyed request, and what came from profiles is recorded in
the claimed idempotency record before anything is sent (notify.dal.idempotency_store.record_destinations).
A re-execution after a crash finds it there and sends, and answers, the same destinations, whatever the
profiles say by then: the answer, not the profile, is the record (R8).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from notify.dal.idempotency_store import record_destinations
from notify.dal.profiles import batch_get_profiles, get_profile
from notify.errors import PayloadTooLarge, ServiceUnavailable
from notify.logic.idempotency import RequestScope
from notify.models.channels import Channel
from notify.models.definitions import EventDefinition
from notify.models.limits import MAX_ANSWER_BYTES
from notify.models.profiles import ACTIVE, Profile
from notify.models.requests import Delivery
from notify.observability import count, logger


@dataclass(frozen=True)
class Destinations:
    """A recipient's destination per channel to send; `skipped` says why none is sent (an inactive profile)."""

    channels: dict[Channel, str]
    skipped: str | None = None
    # The distinct_id has no profile, and `to` alone gives nothing to send.
    unknown_profile: bool = False


@dataclass(frozen=True)
class Recipient:
    """One recipient to resolve: its number in the request (0, a bulk seq, an automation step)."""

    number: int
    delivery: Delivery
    definition: EventDefinition


def inactive_reason(distinct_id: str) -> str:
    return f"skipped: the profile '{distinct_id}' is inactive (status 0); nothing is sent to it"


def _given(recipient: Recipient) -> dict[Channel, str]:
    return {c: d for c, d in recipient.delivery.to.destinations().items() if c in recipient.definition.channels}


def _needs_profile(recipient: Recipient) -> bool:
    # Also when `to` gives every channel: the profile may be inactive, and then nothing is sent (P5).
    return recipient.delivery.distinct_id is not None


def _from_profile(recipient: Recipient, profile: Profile | None) -> Destinations:
    given = _given(recipient)
    if profile is None:
        return Destinations(channels=given, unknown_profile=not given)
    channels: dict[Channel, str] = {}
    for channel in Channel:  # the order `to` answers in
        if channel not in recipient.definition.channels:
            continue
        destination = given.get(channel) or profile.channel.destination(channel)
        if destination:
            channels[channel] = destination
    skipped = None if profile.status == ACTIVE else inactive_reason(profile.distinct_id)
    return Destinations(channels=channels, skipped=skipped)


def _encode(resolved: dict[int, Destinations]) -> bytes:
    """The destinations to record, compressed. Every one of them is echoed in the answer: past the answer's
    limit the request is refused (413) before anything is recorded (notify.logic.notifications.check_answer_size
    bounds the rest)."""
    document = {
        str(number): {"channels": {c.value: d for c, d in found.channels.items()}, "skipped": found.skipped}
        for number, found in resolved.items()
    }
    encoded = json.dumps(document, separators=(",", ":")).encode()
    if len(encoded) > MAX_ANSWER_BYTES:
        raise PayloadTooLarge(
            f"The profiles' destinations take {len(encoded)} bytes, past the {MAX_ANSWER_BYTES} bytes an answer "
            "echoing them may take: send fewer recipients or channels at once",
            field="answer",
            limit=MAX_ANSWER_BYTES,
        )
    return zlib.compress(encoded, 6)


def _decode(payload: bytes) -> dict[int, Destinations]:
    """What _encode kept. Only resolutions without an unknown profile are ever recorded (resolve_destinations)."""
    document = json.loads(zlib.decompress(payload))
    return {
        int(number): Destinations(
            channels={Channel(c): d for c, d in found["channels"].items()},
            skipped=found["skipped"],
        )
        for number, found in document.items()
    }


def resolve_destinations(scope: RequestScope, recipients: Sequence[Recipient]) -> dict[int, Destinations]:
    """Each recipient's destinations by number. Profiles are read for the recipients with a `distinct_id`, in one
    GetItem, or BatchGetItem calls of 100 keys; a keyed request records what they gave before anything is sent,
    and a re-execution reuses that record. A table unreachable is a 503."""
    resolved = {r.number: Destinations(channels=_given(r)) for r in recipients if not _needs_profile(r)}
    wanted = [r for r in recipients if _needs_profile(r)]
    if not wanted:
        return resolved
    recorded = scope.claim.recorded_destinations if scope.is_idempotent else None
    if recorded is not None:
        # A re-execution: the destinations the first execution resolved, whatever the profiles say now.
        earlier = _decode(recorded)
        if all(r.number in earlier for r in wanted):
            logger.info("destinations reused from the claimed record", extra={"recipients": len(wanted)})
            return {**resolved, **{r.number: earlier[r.number] for r in wanted}}
    try:
        profiles = _read_profiles(scope, [r.delivery.distinct_id for r in wanted if r.delivery.distinct_id])
        from_profiles = {r.number: _from_profile(r, profiles.get(r.delivery.distinct_id or "")) for r in wanted}
        if scope.is_idempotent and not any(found.unknown_profile for found in from_profiles.values()):
            record_destinations(scope.claim, _encode(from_profiles))
    except (BotoCoreError, ClientError, RuntimeError) as exc:
        logger.error("profiles unreachable", extra={"recipients": len(wanted), "error": str(exc)})
        raise ServiceUnavailable() from exc
    count("ProfilesResolved", len(wanted))
    return {**resolved, **from_profiles}


def _read_profiles(scope: RequestScope, distinct_ids: list[str]) -> dict[str, Profile]:
    unique = list(dict.fromkeys(distinct_ids))
    if len(unique) == 1:
        found = get_profile(scope.workspace, scope.version, unique[0])
        return {unique[0]: found[0]} if found else {}
    return batch_get_profiles(scope.workspace, scope.version, unique)
