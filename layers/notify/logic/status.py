"""Request status: every notification of a request and its delivery state (docs/contract.md section 4)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError

from notify.dal.delivery_log import KeptManifests, get_request, record_bulk_manifests, record_manifests
from notify.errors import RequestNotFound, ServiceUnavailable
from notify.models.delivery import DeliveryState, ManifestEntry, NotificationStatus, RequestManifest, RequestStatus
from notify.models.messages import NotificationMessage
from notify.observability import logger, mask_destination
from notify.settings import get_settings
from notify.timestamps import iso_utc


def _manifest(
    messages: Sequence[NotificationMessage], event: str, received: datetime, skipped: dict[str, str] | None = None
) -> RequestManifest:
    first = messages[0]
    retention = received + timedelta(days=get_settings().delivery_log_retention_days)
    return RequestManifest(
        request_id=first.request_id,
        workspace=first.workspace,
        version=first.version,
        event=event,
        received_time=iso_utc(received),
        notifications=[
            ManifestEntry(msg_id=m.msg_id, channel=m.channel, destination=mask_destination(m.destination))
            for m in messages
        ],
        expires_at=max(int(retention.timestamp()), first.dedupe_until),
        skipped={m.msg_id: skipped[m.msg_id] for m in messages if skipped and m.msg_id in skipped},
    )


def record_request(
    messages: Sequence[NotificationMessage],
    *,
    event: str,
    received: datetime,
    skipped: dict[str, str] | None = None,
    kept: KeptManifests | None = None,
) -> RequestManifest:
    """Record what a request queues (all `messages` share its request_id), so the status route shows its
    notifications `queued` as soon as the client has the answer. Kept at least as long as the key, so a retry
    finds the same request.

    An unkeyed (or `test`) request writes it now, before enqueueing. A keyed one keeps it back (`kept`, its
    claim's) and writes it in one transaction with the idempotency record's completion, which happens before
    the answer leaves (notify.logic.idempotency.run_idempotently): no call of its own. A sender may then record
    a notification's outcome before the manifest exists; the status route starts from the manifest and never
    shows such a notification without it, and the sender never reads the manifest (docs/bench.md, "Ordering")."""
    manifest = _manifest(messages, event, received, skipped)
    record_manifests([manifest], kept=kept)
    return manifest


def record_bulk_requests(
    bulk_request_id: str,
    requests: Sequence[Sequence[NotificationMessage]],
    *,
    event: str,
    received: datetime,
    skipped: dict[str, str] | None = None,
    kept: KeptManifests | None = None,
) -> list[RequestManifest]:
    """record_request for each item of a bulk request (a request of its own), stored a hundred to an item
    (notify.dal.delivery_log.record_bulk_manifests): a 1000-recipient bulk's manifests fit its completion."""
    manifests = [_manifest(messages, event, received, skipped) for messages in requests]
    record_bulk_manifests(bulk_request_id, manifests, kept=kept)
    return manifests


NOT_QUEUED_REASON = "not queued: the queue refused it after every retry; it will not be sent"


def record_not_queued(
    manifests: Sequence[RequestManifest],
    failed: set[str],
    *,
    bulk_request_id: str | None = None,
    kept: KeptManifests | None = None,
) -> None:
    """Write again the manifests of requests with notifications the queue refused, naming those, so the status
    route shows them `failed` (a put like the first write: the API functions may not update the log). A
    manifest still kept back for the completion of a keyed request is replaced there, at no cost. A bulk
    request's manifests are rewritten as their groups. A failed write is logged: the answer already tells the
    client, and nothing is sent either way."""

    def marking(manifest: RequestManifest) -> RequestManifest:
        refused = [entry.msg_id for entry in manifest.notifications if entry.msg_id in failed]
        return manifest.model_copy(update={"not_queued": refused}) if refused else manifest

    marked = [marking(manifest) for manifest in manifests]
    try:
        if bulk_request_id is not None:
            record_bulk_manifests(bulk_request_id, marked, replace=True, kept=kept)
        else:
            changed = [m for m, first in zip(marked, manifests, strict=True) if m is not first]
            record_manifests(changed, replace=True, kept=kept)
    except (BotoCoreError, ClientError, RuntimeError) as exc:
        logger.error("not-queued record failed", extra={"requests": len(marked), "error": str(exc)})


def _state_without_record(entry: ManifestEntry, manifest: RequestManifest) -> tuple[DeliveryState, str | None]:
    if entry.msg_id in manifest.skipped:
        return DeliveryState.skipped, manifest.skipped[entry.msg_id]
    if entry.msg_id in manifest.not_queued:
        return DeliveryState.failed, NOT_QUEUED_REASON
    return DeliveryState.queued, None


def request_status(workspace: str, version: str, request_id: str) -> RequestStatus:
    """The request's notifications, `queued` until a sender records more; RequestNotFound unless it is
    this workspace's and this version's."""
    try:
        uuid.UUID(request_id)
    except ValueError as exc:
        raise RequestNotFound(request_id) from exc
    try:
        manifest, records = get_request(request_id)
    except (BotoCoreError, ClientError) as exc:
        logger.error("delivery log read failed", extra={"request_id": request_id, "error": str(exc)})
        raise ServiceUnavailable() from exc
    if manifest is None or manifest.workspace != workspace or manifest.version != version:
        raise RequestNotFound(request_id)
    by_msg_id = {record.msg_id: record for record in records}
    notifications = []
    for entry in manifest.notifications:
        record = by_msg_id.get(entry.msg_id)
        state, reason = (record.state, record.reason) if record else _state_without_record(entry, manifest)
        notifications.append(
            NotificationStatus(
                msg_id=entry.msg_id,
                channel=entry.channel,
                destination=entry.destination,
                state=state,
                attempts=record.attempts if record else 0,
                provider=record.provider if record else None,
                provider_message_id=record.provider_message_id if record else None,
                reason=reason,
                queued_at=manifest.received_time,
                updated_at=record.updated_at if record else None,
                sent_at=record.sent_at if record else None,
            )
        )
    return RequestStatus(
        request_id=manifest.request_id,
        event=manifest.event,
        version=manifest.version,
        received_time=manifest.received_time,
        notifications=notifications,
    )
