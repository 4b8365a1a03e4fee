"""The sender's contract (R8): each msg_id is delivered at most once, whatever SQS or the API redelivers.

The msg_id's guard is the notification's own item in the delivery log (notify.dal.delivery_log.claim_delivery):
one write claims it, one records the outcome. Powertools is not used here any more: its record in the idempotency
table was the guard, two more writes a message (a claim and a completion) for what the item already says. The
item outlives every copy of the message (`guard_expiry`: the request's idempotency key, `dedupe_until`, plus the
step's delay for a delayed automation step, plus the time a copy can wait on the queue, and never less than the
delivery log's retention). So a message SQS delivers twice, or one the API queued again after a crash and a client
retry (even hours later, for a step delayed by days), finds it.

- The claim: the first attempt's conditional put creates the item `held` (attempt 1, the queue message kept for a
  redrive); a refused put answers with the item that refused it. A `released` item is claimed with one conditional
  update (its attempt counted); a `held` one is another delivery in progress (retried later; on the queue's last
  receive recorded `unknown`); a `done` one ends there (NotificationsDuplicate, nothing sent).
- Delivered, failed for good (template error, no provider, refused destination), or `unknown` (the
  provider may have taken it: a timeout after sending, a lost answer, a 5xx): the outcome is recorded and the
  claim ended `done` in one write, and every later copy of the message ends there. Providers are called with no
  retry of their own.
- A failure known to happen before the provider got the request (connection refused, DNS, an explicit
  throttle, no time left in the invocation) raises: the claim is released (`queued`, the reason) in one write and
  SQS redelivers after the visibility timeout. The last receive the queue allows records it failed (nothing was
  sent; still released, so a later copy may send it).
- A claim is not released when a sender dies mid-delivery: the provider may have sent it, and sending again would
  break R8. Such a message is retried until the last receive and then recorded `unknown`. An outcome that cannot be
  written after the provider took the message leaves the claim held the same way: never sent twice.
- A message is started only when a provider call still fits in the invocation (logic/budget.py);
  otherwise it goes back to the queue untouched.

Guards written before the guard moved into the item (`send#<sha256>` in the idempotency table, by the sender's
earlier version) are honoured: an item without `guard` was written by that sender, and the claim reads its guard
(one GetItem, only then): in progress is a delivery in progress, completed is its outcome. A message with no item
at all is safe to claim: the earlier sender recorded its attempt (created the item) before calling a provider, so
no item means no provider call yet. The one window left is an earlier sender running at the same moment as this
one on two copies of one message, between its guard's claim and its attempt (a few milliseconds, during a deploy
only): docs/operations.md says how a deploy closes it.

An operator can send an `unknown` or `failed` notification again on purpose (logic/redrive.py).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from notify.dal.delivery_log import Attempt, Claimed, claim_delivery, record_outcome
from notify.dal.idempotency_store import SEND_KEY_PREFIX, read_send_guard, send_guard_id
from notify.dal.queue import SQS_MAX_DELAY_SECONDS, EnqueueFailed, Outgoing, enqueue_notifications
from notify.errors import ServiceUnavailable
from notify.logic import budget
from notify.logic.definitions import event_definition_to_send
from notify.logic.providers import (
    Delivery,
    PermanentDeliveryError,
    Providers,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from notify.logic.reports import queue_report, report_of
from notify.logic.suppressions import suppressed_at_send
from notify.logic.templates import TemplateRenderError, render_channel_template
from notify.models.delivery import DeliveryState
from notify.models.messages import NotificationMessage
from notify.observability import count, logger, mask_destination
from notify.settings import get_settings
from notify.timestamps import iso_utc

__all__ = ["SEND_KEY_PREFIX", "send_guard_id"]  # the earlier guards' ids (tests and tools plant and read them)

SANDBOX_PROVIDER = "sandbox"
# A claim that expires before it is written protects nothing (a message redriven after its key expired).
MIN_CLAIM_SECONDS = 60 * 60


class RetryLater(Exception):
    """The message must come back through the visibility timeout (the batch reports it failed)."""


class NotStarted(RetryLater):
    """Too little time is left in the invocation to call a provider: the message was not touched."""


INTERRUPTED_REASON = "delivery was interrupted and its outcome is unknown; not retried so it is never sent twice"


def guard_expiry(message: NotificationMessage, now: float) -> int:
    """When the msg_id's guard may go (R8): after the key, the step's delay and a copy's longest wait on the
    queue. A client retry can queue a copy until `dedupe_until`, due `step_delay_seconds` later; a copy
    queued with `not_before` is due then; any copy may then wait out the queue's retention."""
    due = max(
        message.dedupe_until + (message.step_delay_seconds or 0),
        message.not_before or 0,
        int(now) + MIN_CLAIM_SECONDS,
    )
    return due + get_settings().notification_queue_retention_seconds


@dataclass(frozen=True)
class SendOutcome:
    state: DeliveryState
    provider: str | None = None
    provider_message_id: str | None = None
    reason: str | None = None


def _defer(message: NotificationMessage) -> SendOutcome:
    """Put a message whose time has not come back on the queue, at most 15 minutes later (SQS's limit).

    A duplicate of the deferred copy is harmless: whichever arrives second finds the msg_id delivered.
    """
    remaining = int(message.not_before or 0) - int(time.time())
    enqueue_notifications([Outgoing(message, delay_seconds=max(1, min(remaining, SQS_MAX_DELAY_SECONDS)))])
    logger.info("delivery deferred", extra={**_log_context(message), "remaining_seconds": remaining})
    return SendOutcome(DeliveryState.queued, reason="scheduled")


def _now() -> str:
    return iso_utc()


def _log_context(message: NotificationMessage) -> dict[str, Any]:
    return {
        "request_id": message.request_id,
        "msg_id": message.msg_id,
        "channel": message.channel.value,
        "destination": mask_destination(message.destination),
        "version": message.version,
    }


def _outcome_metric(state: DeliveryState) -> str:
    """NotificationsSent, NotificationsFailed (NotificationsUnknown...); a delivery put back on the queue for
    a retry (still `queued`) is NotificationsRetried, where a provider throttling every send shows first."""
    return "NotificationsRetried" if state is DeliveryState.queued else f"Notifications{state.value.capitalize()}"


def _record(
    message: NotificationMessage,
    outcome: SendOutcome,
    *,
    counted: bool = True,
    reported: bool = True,
    created: dict[str, Any] | None = None,
    release: str | None = None,
    with_attempt: bool = False,
) -> None:
    """Count the outcome (unless already `counted`), write it to the delivery log, ending the msg_id's claim, and
    queue its report (unless already `reported` elsewhere). After a provider accepted, a failed write must not raise
    nor release the claim: that would send again (R8). `created`: the item this delivery's claim created;
    `release`: the claim's token, for an outcome that sent nothing (the next copy may claim it); `with_attempt`: an
    outcome that may be the msg_id's first record counts an attempt and names its channel and destination."""
    if counted:
        count(_outcome_metric(outcome.state), channel=message.channel.value)
    attempt = None
    if with_attempt:
        attempt = (
            message.channel.value,
            mask_destination(message.destination),
            message.model_dump_json(),
            _expiry(message),
        )
    try:
        try:
            record_outcome(
                message.request_id,
                message.msg_id,
                state=outcome.state,
                updated_at=_now(),
                provider=outcome.provider,
                provider_message_id=outcome.provider_message_id,
                reason=outcome.reason,
                created=created,
                release=release,
                attempt=attempt,
            )
        except (ClientError, BotoCoreError) as exc:
            if created is None:
                raise
            # The put that replaces the created item failed: the update is another call, and the claim ends only
            # with an outcome written (until then it stays held: never sent again, `unknown` on the last receive).
            logger.warning("delivery log write failed", extra={**_log_context(message), "error": str(exc)})
            _record(message, outcome, counted=False, reported=False)
    except (ClientError, BotoCoreError) as exc:
        logger.error("delivery log write failed", extra={**_log_context(message), "error": str(exc)})
    if not reported:
        return
    # Queued only, never delivered here: the reporter's receiver cannot slow or block this delivery.
    queue_report(report_of(message, outcome.state.value, outcome.reason, outcome.provider_message_id))


_OUTCOME_LOG = {
    DeliveryState.sent: "notification delivered",
    DeliveryState.failed: "notification failed",
    DeliveryState.unknown: "notification outcome unknown",
    DeliveryState.skipped: "notification suppressed",
}


def _expiry(message: NotificationMessage) -> int:
    """When the msg_id's item may go: at least as late as its guard must live (`guard_expiry`) and the delivery
    log's retention."""
    now = time.time()
    retention = int(now) + get_settings().delivery_log_retention_days * 86400
    return max(retention, message.dedupe_until, guard_expiry(message, now))


def _claim(message: NotificationMessage, token: str) -> Any:
    """Claim the msg_id (notify.dal.delivery_log.claim_delivery): its item, held by `token`, keeps the queue message
    for redrives and lives until `_expiry`."""
    return claim_delivery(
        message.request_id,
        message.msg_id,
        token=token,
        channel=message.channel.value,
        destination=mask_destination(message.destination),
        now=_now(),
        expires_at=_expiry(message),
        message=message.model_dump_json(),
        legacy_guard=read_send_guard,
    )


def _not_started(message: NotificationMessage, final_attempt: bool) -> NotStarted:
    """No provider call fits in what is left of the invocation: the message goes back untouched, except on
    the queue's last receive, where it is recorded failed (nothing was sent) before it moves to the DLQ."""
    reason = "not started: too little time left in the invocation to call a provider"
    if final_attempt:
        limit = get_settings().max_receive_count
        _record_dead_lettered(message, f"{reason} (attempt {limit} of {limit})")
        logger.warning("delivery abandoned", extra={**_log_context(message), "reason": reason})
    return NotStarted(reason)


def _record_dead_lettered(message: NotificationMessage, reason: str, token: str | None = None) -> None:
    """On the queue's last receive, before the message moves to the dead-letter queue having sent nothing: an
    attempt and the outcome `failed`, "dead-lettered: ...", in one write that leaves the guard released (a later
    copy may still send it) and never frees another delivery's claim."""
    outcome = SendOutcome(DeliveryState.failed, reason=dead_lettered(reason))
    _record(message, outcome, release=token or _token(), with_attempt=True)


def _token() -> str:
    return uuid.uuid4().hex


class _Suppressed(Exception):
    """The destination is suppressed now: the notification is recorded `skipped`, nothing is sent."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _deliver(message: NotificationMessage, providers: Providers, attempt: Attempt) -> SendOutcome:
    """One delivery attempt; runs under the msg_id claim."""
    try:
        # Cached for up to a minute per container, as the API caches it (notify.logic.definitions).
        definition = event_definition_to_send(message.workspace, message.event)
    except ServiceUnavailable as exc:
        cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else type(exc).__name__
        raise TransientDeliveryError(f"event definition unavailable: {cause}") from exc
    try:
        # Checked again here: a suppression added after the request was accepted still stops the send. An
        # unreadable list is retried, never taken for "not suppressed".
        suppressed = suppressed_at_send(message)
    except (ClientError, BotoCoreError, RuntimeError) as exc:
        raise TransientDeliveryError(f"suppressions unavailable: {type(exc).__name__}") from exc
    try:
        if suppressed is not None:
            raise _Suppressed(suppressed)
        if definition is None or message.channel not in definition.channels:
            raise PermanentDeliveryError(f"the event '{message.event}' no longer defines the {message.channel} channel")
        rendered = render_channel_template(definition.channels[message.channel], message.data)
        if message.version == "test":
            # Nothing leaves the system on `test`: the delivery log is the sandbox. A channel without a
            # provider still fails, so `test` shows what `live` would do.
            providers.check_configured(message)
            delivery = Delivery(SANDBOX_PROVIDER, f"sandbox-{message.msg_id}")
        else:
            delivery = providers.deliver(message, rendered)
    except _Suppressed as exc:
        outcome = SendOutcome(DeliveryState.skipped, reason=exc.reason)
    except TemplateRenderError as exc:
        outcome = SendOutcome(DeliveryState.failed, reason=str(exc))
    except PermanentDeliveryError as exc:
        outcome = SendOutcome(DeliveryState.failed, provider=exc.provider, reason=exc.reason)
    except UnknownOutcomeError as exc:
        # Recorded as the claim's end like any outcome, so no copy of this msg_id calls the provider again.
        reason = f"{exc.reason}; the provider may have accepted it, so it is not sent again (redrive to resend)"
        outcome = SendOutcome(DeliveryState.unknown, provider=exc.provider, reason=reason)
    else:
        outcome = SendOutcome(DeliveryState.sent, delivery.provider, delivery.provider_message_id)
    _record(message, outcome, created=attempt.created)
    logger.info(
        _OUTCOME_LOG[outcome.state],
        extra={
            **_log_context(message),
            "attempt": attempt.number,
            "provider": outcome.provider,
            "reason": outcome.reason,
        },
    )
    return outcome


# The reason a notification the queue moves to the dead-letter queue is recorded with: the status route shows it
# `failed`, never `queued` for good (docs/contract.md section 7). The redrive tooling can send it again.
DEAD_LETTERED = "dead-lettered"


def dead_lettered(reason: str) -> str:
    return f"{DEAD_LETTERED}: {reason}"


def _defer_or_retry(message: NotificationMessage, final_attempt: bool) -> SendOutcome:
    """_defer, or RetryLater when the queue refused the copy; on the last receive, recorded failed first (the
    message goes to the dead-letter queue, and nothing was sent)."""
    try:
        return _defer(message)
    except EnqueueFailed as exc:
        reason = "the delayed notification could not be put back on the queue"
        if final_attempt:
            _record_dead_lettered(message, reason)
        logger.warning("delivery deferral failed", extra={**_log_context(message), "final": final_attempt})
        raise RetryLater(reason) from exc


class MalformedMessage(Exception):
    """A queue message that is not a notification: reported failed, so the queue moves it to the DLQ."""


def read_message(body: str, message_id: str) -> NotificationMessage:
    """A queue message's notification. pydantic's own error quotes the body, recipient address included, and
    Lambda logs the traceback of a batch whose every record failed: name only the fields that broke."""
    try:
        return NotificationMessage.model_validate_json(body)
    except ValidationError as exc:
        fields = sorted({".".join(str(part) for part in error["loc"]) or "body" for error in exc.errors()})
        raise MalformedMessage(f"queue message {message_id} is not a notification: {', '.join(fields)}") from None


def send_notification(message: NotificationMessage, receive_count: int, providers: Providers) -> SendOutcome:
    """Deliver `message` at most once per msg_id (R8); RetryLater when SQS should redeliver it."""
    final_attempt = receive_count >= get_settings().max_receive_count
    if not budget.can_start_message():
        raise _not_started(message, final_attempt)
    if message.not_before is not None and message.not_before > time.time():
        return _defer_or_retry(message, final_attempt)
    token = _token()
    try:
        try:
            claim = _claim(message, token)
        except (ClientError, BotoCoreError) as exc:
            # The claim could not be written (or read): nothing was sent.
            raise TransientDeliveryError(f"delivery log unavailable: {type(exc).__name__}") from exc
        if not isinstance(claim, Claimed):
            return _claimed_elsewhere(message, claim.item, claim.held, final_attempt)
        return _deliver(message, providers, claim.attempt)
    except TransientDeliveryError as exc:
        raise _released(message, exc, receive_count, token) from exc
    except RetryLater:
        raise
    except Exception as exc:
        # Anything else raised before a provider took the message (an outcome never raises): the claim is released
        # and SQS redelivers; on the last receive it goes to the dead-letter queue, and the status route says so.
        if final_attempt:
            _record_dead_lettered(message, f"{type(exc).__name__} (attempt {receive_count} of {receive_count})", token)
        else:
            _record(message, SendOutcome(DeliveryState.queued), counted=False, reported=False, release=token)
        raise


def _released(message: NotificationMessage, exc: TransientDeliveryError, receive_count: int, token: str) -> RetryLater:
    """A failure before the provider got the message: the claim released with the reason in one write (`failed`,
    dead-lettered, on the queue's last receive), and RetryLater, so SQS redelivers (or moves it to the DLQ)."""
    final_attempt = receive_count >= get_settings().max_receive_count
    reason = f"{exc.reason} (attempt {receive_count} of {get_settings().max_receive_count})"
    state = DeliveryState.failed if final_attempt else DeliveryState.queued
    reason = dead_lettered(reason) if final_attempt else reason
    _record(message, SendOutcome(state, provider=exc.provider, reason=reason), release=token)
    logger.warning(
        "delivery will be retried" if not final_attempt else "delivery abandoned",
        extra={**_log_context(message), "reason": reason},
    )
    # Raised on the final attempt too, so the message lands in the dead-letter queue for inspection.
    return RetryLater(reason)


_TAKEN_BY_PROVIDER = {DeliveryState.delivered, DeliveryState.bounced, DeliveryState.complained}


def _claimed_elsewhere(
    message: NotificationMessage, item: dict[str, Any], held: bool, final_attempt: bool
) -> SendOutcome:
    """The msg_id's item refused the claim: a delivery in progress (`held`), or its outcome."""
    if held:
        if not final_attempt:
            # Another sender may hold the claim right now; by the next receive it will have finished.
            raise RetryLater("another delivery of this msg_id is in progress")
        outcome = SendOutcome(DeliveryState.unknown, reason=INTERRUPTED_REASON)
        # The interrupted delivery may have died before anything else was recorded (found by `make soak`).
        _record(message, outcome, with_attempt=True)
        logger.error("delivery outcome unknown", extra=_log_context(message))
        return outcome
    state = DeliveryState(item.get("state", DeliveryState.queued.value))
    if state in _TAKEN_BY_PROVIDER:
        # The sender's own outcome was `sent`: a provider event after it (delivered, bounced) moved the state on.
        outcome = SendOutcome(DeliveryState.sent, item.get("provider"), item.get("provider_message_id"))
    else:
        outcome = SendOutcome(state, item.get("provider"), item.get("provider_message_id"), item.get("reason"))
    logger.info("duplicate notification skipped", extra=_log_context(message))
    count("NotificationsDuplicate", channel=message.channel.value)
    # A `cancelled` outcome is the cancel route's: the cancel queued its report already (C1).
    reported = outcome.state is not DeliveryState.cancelled
    if item.get("legacy"):
        # An earlier sender's guard holds the outcome; written to the item, which then holds it (counted once).
        _record(message, outcome, counted=False, reported=reported)
    elif reported:
        queue_report(report_of(message, outcome.state.value, outcome.reason, outcome.provider_message_id))
    return outcome
