"""What the Event, Event Bulk and Automations APIs share: which channels to send (with notify.logic.recipients
for a `distinct_id`), one notification per channel, recording the request then queueing it, and the receipts
the answers carry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from notify.dal.delivery_log import KeptManifests
from notify.dal.queue import EnqueueFailed, Outgoing, enqueue_notifications
from notify.deadline import time_budget_leaving
from notify.errors import NotQueued, PayloadTooLarge, QueueingRetried
from notify.logic.idempotency import RequestScope, derive_msg_id
from notify.logic.recipients import Destinations
from notify.logic.reports import queue_skipped_reports
from notify.logic.responses import StoredResponse, stored_error, stored_response
from notify.logic.status import record_not_queued
from notify.logic.templates import TrialRenders
from notify.models.channels import Channel
from notify.models.definitions import EventDefinition
from notify.models.delivery import RequestManifest
from notify.models.limits import MAX_ANSWER_BYTES, json_bytes
from notify.models.messages import NotificationMessage
from notify.models.requests import Delivery, Recipient
from notify.models.responses import Receipt
from notify.observability import count, logger

if TYPE_CHECKING:
    from notify.models.responses import ResponseBody


class NoChannelToSend(ValueError):
    """The recipient has no destination on any channel the event defines."""


def channels_to_send(to: Recipient, definition: EventDefinition) -> dict[Channel, str]:
    """The requested channels the event defines. A destination for a channel the event lacks is
    skipped, as Fyno does; a recipient left with nothing to send is refused before execution."""
    sendable = {channel: dest for channel, dest in to.destinations().items() if channel in definition.channels}
    if not sendable:
        defined = ", ".join(sorted(c.value for c in definition.channels))
        raise NoChannelToSend(f"must include one of: {defined}")
    return sendable


def missing_template_data(
    trial: TrialRenders, definition: EventDefinition, channels: Iterable[Channel], data: dict[str, Any]
) -> list[str]:
    """One message per channel to send whose template needs a variable `data` does not give, from a trial
    render (docs/contract.md, D8): the APIs refuse such a request with a 400 before anything is stored."""
    problems = []
    for channel in channels:
        missing = trial.missing_data(definition.channels[channel], data)
        if missing is not None:
            problems.append(f"the {channel.value} template needs {missing}, which data does not give")
    return problems


def build_notifications(
    scope: RequestScope,
    request_id: str,
    recipient_index: int,
    event: str,
    delivery: Delivery,
    channels: dict[Channel, str],
    dedupe_until: int,
) -> list[NotificationMessage]:
    return [
        NotificationMessage(
            msg_id=derive_msg_id(request_id, recipient_index, channel.value),
            request_id=request_id,
            workspace=scope.workspace,
            version=scope.version,
            event=event,
            channel=channel,
            destination=destination,
            data=delivery.data,
            distinct_id=delivery.distinct_id,
            callback=None if delivery.callback is None else delivery.callback.model_dump(exclude_none=True),
            dedupe_until=dedupe_until,
        )
        for channel, destination in channels.items()
    ]


# Upper bounds of an answer's bytes besides its destinations and reasons: one recipient (a bulk item's seq
# and request_id) and one channel's receipt (its name, msg_id, status and the not-queued message).
ANSWER_BYTES_PER_RECIPIENT = 96
ANSWER_BYTES_PER_NOTIFICATION = 160
ANSWER_BYTES_FIXED = 2048


def check_answer_size(
    messages: Sequence[NotificationMessage], recipients: int, skipped: dict[str, str] | None = None
) -> None:
    """Refuse (413, nothing queued or stored) a request whose answer would pass MAX_ANSWER_BYTES: it echoes each
    destination, profiles' included, and an answer Lambda cannot return would leave a 202 unsaid."""
    size = ANSWER_BYTES_FIXED + recipients * ANSWER_BYTES_PER_RECIPIENT
    for message in messages:
        size += ANSWER_BYTES_PER_NOTIFICATION + json_bytes(message.destination)
        if skipped and message.msg_id in skipped:
            size += json_bytes(skipped[message.msg_id])
    if size > MAX_ANSWER_BYTES:
        raise PayloadTooLarge(
            f"The answer would be about {size} bytes, past the {MAX_ANSWER_BYTES} bytes an answer may take "
            "(it echoes every destination, those from profiles too): send fewer recipients or channels at once",
            field="answer",
            limit=MAX_ANSWER_BYTES,
        )


# Enqueueing leaves this much of the execution's time to record what the queue refused.
NOT_QUEUED_RESERVE_SECONDS = 2.5


def queue_notifications(
    outgoing: Sequence[NotificationMessage | Outgoing],
    api: str,
    manifests: Sequence[RequestManifest],
    *,
    bulk_request_id: str | None = None,
    kept: KeptManifests | None = None,
) -> set[str]:
    """Enqueue every message; return the msg_ids the queue did not take, recorded `failed` ("not queued")
    so the status route never shows them waiting (R8)."""
    try:
        with time_budget_leaving(NOT_QUEUED_RESERVE_SECONDS):
            enqueue_notifications(outgoing)
    except EnqueueFailed as exc:
        failed = set(exc.failed)
    else:
        return set()
    logger.error("enqueue failed", extra={"notifications": len(outgoing), "failed": len(failed)})
    count("EnqueueFailed", len(failed), api=api)
    record_not_queued(manifests, failed, bulk_request_id=bulk_request_id, kept=kept)
    return failed


@dataclass(frozen=True)
class Queued:
    """What `record_then_queue` did: the msg_ids the queue did not take, and, when it took none of them, the
    request's answer: a stored 500 naming the request, whose status route shows each one `failed` (R3)."""

    failed: set[str]
    refused: StoredResponse | None = None

    def answer(self, accepted: ResponseBody, *, metric: str, log: str, **extra: Any) -> StoredResponse:
        """The request's answer: the refusal, or `accepted` as a 202, logged (`log`, with `extra`) and counted."""
        if self.refused is not None:
            return self.refused
        logger.info(log, extra=extra)
        count(metric)
        return stored_response(202, accepted)


def record_then_queue(
    scope: RequestScope,
    record: Callable[[KeptManifests | None], Sequence[RequestManifest]],
    outgoing: Sequence[NotificationMessage | Outgoing],
    *,
    request_id: str,
    refusal: str,
    bulk_request_id: str | None = None,
    skipped: dict[str, str] | None = None,
    every_message: Iterable[NotificationMessage] = (),
) -> Queued:
    """Record the request for the status route (`record`, given where a keyed request keeps its manifests back),
    then queue its notifications. None is queued when the record could not be written (nothing was offered to the
    queue); then, or when the queue took none, the request is refused with `refusal`. Otherwise the reports of the
    notifications skipped at the door (`skipped`, msg_id -> reason, among `every_message`) are queued too."""
    api, kept = scope.api, scope.kept_manifests()
    try:
        manifests = record(kept)
    except (BotoCoreError, ClientError, RuntimeError) as exc:
        logger.error("request record failed", extra={"request_id": request_id, "error": str(exc)})
        failed = {(item.message if isinstance(item, Outgoing) else item).msg_id for item in outgoing}
        count("EnqueueFailed", len(failed), api=api)
    else:
        failed = set()
        if outgoing:  # none when every notification was skipped (inactive profiles): recorded, nothing to queue
            failed = queue_notifications(outgoing, api, manifests, bulk_request_id=bulk_request_id, kept=kept)
    if outgoing and len(failed) == len(outgoing):
        if kept is not None and scope.claim.taken_over:
            # An earlier execution of this key answered without storing its answer, and may have queued them all:
            # a stored 500 would contradict it. Nothing is stored; the retry re-executes under the same ids.
            count("QueueingRetried", api=api)
            raise QueueingRetried()
        return Queued(failed, stored_error(NotQueued(refusal, request_id=request_id)))
    queue_skipped_reports(every_message, skipped or {})
    return Queued(failed)


def receipts(
    messages: list[NotificationMessage],
    failed: set[str] | frozenset[str] = frozenset(),
    skipped: dict[str, str] | None = None,
) -> dict[str, Receipt]:
    """`{channel: Receipt}` as the APIs answer it: the fields of ChannelReceipts and of each bulk item.
    `skipped` (msg_id -> reason): not sent on purpose, the recipient's profile being inactive."""
    answer: dict[str, Receipt] = {}
    for message in messages:
        if skipped and message.msg_id in skipped:
            receipt = Receipt(
                destination=message.destination,
                msg_id=message.msg_id,
                status="skipped",
                message=skipped[message.msg_id],
            )
        else:
            queued = message.msg_id not in failed
            receipt = Receipt(
                destination=message.destination,
                msg_id=message.msg_id,
                status="ok" if queued else "error",
                message=None if queued else "The notification could not be queued",
            )
        answer[message.channel.value] = receipt
    return answer


def skipped_reasons(messages: Sequence[NotificationMessage], found: Destinations) -> dict[str, str]:
    """msg_id -> why it is not sent, for a recipient whose profile is inactive (counted as NotificationsSkipped)."""
    if not found.skipped:
        return {}
    for message in messages:
        count("NotificationsSkipped", channel=message.channel.value)
    return {message.msg_id: found.skipped for message in messages}
