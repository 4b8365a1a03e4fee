"""Delivery reports (docs/contract.md section 8): one signed POST per state a notification reaches.

Whoever records a state (the sender, the provider-events function) only queues a report (`queue_report`), which
never raises: a slow or failing receiver can never delay or block a delivery. The reporter (functions/reporter)
delivers it with Standard Webhooks headers; `webhook-id` is derived from (msg_id, status), so every retry of one
report carries the same id and a receiver can deduplicate. A report not delivered is retried with a growing
delay (`retry_delay_seconds`, set on the message's visibility) for more than 24 hours, then the queue moves it
to its dead-letter queue, which has an alarm (docs/operations.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from notify.dal.callbacks import SECRET_PREFIX, get_signing_secret, list_endpoints
from notify.dal.report_queue import delay_report, send_report
from notify.errors import RequestValidationError
from notify.logic.providers.errors import PermanentDeliveryError, TransientDeliveryError, UnknownOutcomeError
from notify.logic.providers.webhooks import (
    CheckedUrl,
    HostRule,
    HttpClient,
    Resolver,
    WebhookRefused,
    check_url,
    system_resolver,
)
from notify.models.callbacks import Callback, CallbackEndpoint, Report, ReportMessage
from notify.observability import count, logger, mask_destination
from notify.settings import get_settings
from notify.timestamps import iso_utc

# The states a report is sent for: every state but `queued`, which is where each notification starts.
REPORTED_STATES = frozenset({"sent", "failed", "unknown", "skipped", "cancelled", "delivered", "bounced", "complained"})

# Retries: 30 s doubling to 2 hours, on each receive the queue counts. The report queue's maxReceiveCount
# (template.yaml, ReportQueue) of 20 spans 30 s + ... + 3840 s + 12 x 7200 s = about 26 hours (>= 24 h).
FIRST_RETRY_SECONDS = 30
LONGEST_RETRY_SECONDS = 2 * 60 * 60


class AnyHost(HostRule):
    """A report endpoint may be any host; check_url's other rules (https, port 443, public addresses) apply."""

    def allows(self, host: str, path: str) -> bool:
        return True


ANY_HOST = (AnyHost((), "/"),)
LOOPBACK = "127.0.0.1"


def webhook_id(msg_id: str, status: str) -> str:
    """The report's Standard Webhooks id: one per (msg_id, status), the same on every retry."""
    return "msg_" + hashlib.sha256(f"{msg_id}\n{status}".encode()).hexdigest()[:32]


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of `id.timestamp.body`, keyed with the secret's bytes (Standard Webhooks)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def _callback(value: dict[str, Any] | None) -> Callback | None:
    """The callback a queued notification carries; a message queued before callbacks were validated may carry
    something else, which asks for no report."""
    if not value:
        return None
    try:
        return Callback.model_validate(value)
    except ValidationError:
        return None


def report_for(
    workspace: str,
    callback: dict[str, Any] | None,
    *,
    request_id: str,
    msg_id: str,
    channel: str,
    destination: str,
    status: str,
    reason: str | None = None,
    provider_message_id: str | None = None,
    timestamp: str | None = None,
) -> ReportMessage | None:
    """The report of one state (`destination` already masked), or None when the notification asked for none."""
    wanted = _callback(callback)
    if wanted is None or not wanted.enabled or status not in REPORTED_STATES:
        return None
    report = Report(
        custom_id=wanted.custom_id,
        custom1=wanted.custom1,
        custom2=wanted.custom2,
        request_id=request_id,
        msg_id=msg_id,
        channel=channel,
        destination=destination,
        status=status,
        reason=reason,
        provider_message_id=provider_message_id,
        timestamp=timestamp or iso_utc(),
    )
    return ReportMessage(
        workspace=workspace,
        webhook_id=webhook_id(msg_id, status),
        endpoints=wanted.allowlist_urls or [],
        report=report,
    )


def queue_report(message: ReportMessage | None) -> None:
    """Put a report on the report queue. Never raises: a report lost here is logged and counted (ReportsNotQueued),
    while the delivery it reports stands."""
    if message is None:
        return
    try:
        send_report(message)
    except (ClientError, BotoCoreError) as exc:
        count("ReportsNotQueued")
        logger.error(
            "report not queued",
            extra={"msg_id": message.report.msg_id, "status": message.report.status, "error": type(exc).__name__},
        )
        return
    count("ReportsQueued")


def unknown_endpoints(workspace: str, callbacks: Iterable[Callback | None]) -> list[str]:
    """The endpoint names the callbacks give that the workspace does not have, sorted (one read, only when some
    callback names any)."""
    named = {name for callback in callbacks if callback is not None for name in callback.allowlist_urls or []}
    if not named:
        return []
    known = {endpoint.name for endpoint in list_endpoints(workspace)}
    return sorted(named - known)


def unknown_endpoints_message(names: list[str]) -> str:
    return f"no delivery report endpoint named {', '.join(repr(n) for n in names)} in this workspace"


def require_known_endpoints(workspace: str, callbacks: Iterable[Callback | None]) -> None:
    """A 400 at the door when a callback names an endpoint the workspace does not have (nothing stored yet)."""
    unknown = unknown_endpoints(workspace, callbacks)
    if unknown:
        message = unknown_endpoints_message(unknown)
        raise RequestValidationError(
            f"Invalid request body: callback.allowlist_urls: {message}",
            errors=[{"field": "callback.allowlist_urls", "message": message}],
        )


def check_callback_url(url: str, *, allow_loopback: bool | None = None, resolver: Resolver | None = None) -> CheckedUrl:
    """The webhook channels' SSRF guard with any host; `http://127.0.0.1:<port>/...` only where the local stack
    allows it. Raises WebhookRefused."""
    if allow_loopback is None:
        allow_loopback = get_settings().local_loopback_callbacks
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookRefused("webhook refused: malformed URL") from exc
    if allow_loopback and parts.scheme == "http" and parts.hostname == LOOPBACK:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return CheckedUrl(host=LOOPBACK, target=target, addresses=(LOOPBACK,), port=port or 80, tls=False)
    return check_url(url, ANY_HOST, resolver or system_resolver)


def retry_delay_seconds(receive_count: int) -> int:
    """How long a report waits before its next attempt, after its `receive_count`th failed."""
    return int(min(FIRST_RETRY_SECONDS * 2 ** max(receive_count - 1, 0), LONGEST_RETRY_SECONDS))


class ReportNotDelivered(Exception):
    """An endpoint did not take the report (any answer but 2xx, a timeout, no connection): retried later."""


def _endpoints(message: ReportMessage) -> list[CallbackEndpoint]:
    endpoints = list_endpoints(message.workspace)
    if message.endpoints:
        by_name = {endpoint.name: endpoint for endpoint in endpoints}
        return [by_name[name] for name in message.endpoints if name in by_name]
    return [endpoint for endpoint in endpoints if endpoint.default]


def deliver_report(message: ReportMessage, http: HttpClient) -> int:
    """POST the report, signed, to each of its endpoints; returns how many took it. ReportNotDelivered when one
    did not (the whole report is retried: receivers deduplicate on `webhook-id`). An endpoint removed since, or
    no default endpoint, drops it (logged); a URL the guard refuses is counted ReportsRefused and not retried."""
    context = {"msg_id": message.report.msg_id, "status": message.report.status, "webhook_id": message.webhook_id}
    endpoints = _endpoints(message)
    if not endpoints:
        logger.info("report has no endpoint", extra=context)
        count("ReportsDropped")
        return 0
    body = json.dumps(message.report.model_dump(mode="json"), separators=(",", ":")).encode()
    failed: list[str] = []
    delivered = 0
    for endpoint in endpoints:
        secret = get_signing_secret(message.workspace, endpoint.name)
        if secret is None:
            logger.warning("report endpoint has no secret", extra={**context, "endpoint": endpoint.name})
            count("ReportsDropped")
            continue
        timestamp = int(time.time())
        headers = {
            "webhook-id": message.webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, message.webhook_id, timestamp, body),
        }
        try:
            checked = check_callback_url(endpoint.url, resolver=http.resolver)
            response = http.send(checked, body, headers)
        except WebhookRefused as exc:
            logger.error("report refused", extra={**context, "endpoint": endpoint.name, "reason": exc.reason})
            count("ReportsRefused")
            continue
        except (TransientDeliveryError, UnknownOutcomeError, PermanentDeliveryError) as exc:
            failed.append(f"{endpoint.name}: {exc.reason}")
            continue
        if 200 <= response.status < 300:
            delivered += 1
        else:
            failed.append(f"{endpoint.name}: answered {response.status}")
    if failed:
        raise ReportNotDelivered("; ".join(failed))
    count("ReportsDelivered", delivered)
    logger.info("report delivered", extra={**context, "endpoints": delivered})
    return delivered


def report_of(
    message: Any, status: str, reason: str | None = None, provider_message_id: str | None = None
) -> ReportMessage | None:
    """The report of one state of a queued notification (`message`, a NotificationMessage), its destination masked;
    None when the notification asked for none."""
    return report_for(
        message.workspace,
        message.callback,
        request_id=message.request_id,
        msg_id=message.msg_id,
        channel=message.channel.value,
        destination=mask_destination(message.destination),
        status=status,
        reason=reason,
        provider_message_id=provider_message_id,
    )


def queue_skipped_reports(messages: Iterable[Any], skipped: dict[str, str]) -> None:
    """The reports of notifications the API skipped at the door (an inactive profile, a suppression): no sender
    ever sees them, so their `skipped` is reported here. `messages` are NotificationMessages."""
    for message in messages:
        if message.msg_id in skipped and message.callback:
            queue_report(report_of(message, "skipped", skipped[message.msg_id]))


def report_record(body: str, message_id: str, receipt_handle: str, receive_count: int, http: HttpClient) -> None:
    """The reporter's work on one queue message. Raises when it must come back: its visibility is moved first to
    the next attempt's time (retry_delay_seconds). A message that is not a report is raised as is (to the DLQ)."""
    try:
        message = ReportMessage.model_validate_json(body)
    except ValidationError:
        raise ValueError(f"queue message {message_id} is not a report") from None
    try:
        deliver_report(message, http)
    except (ReportNotDelivered, TransientDeliveryError, ClientError, BotoCoreError) as exc:
        delay = retry_delay_seconds(receive_count)
        count("ReportsRetried")
        logger.warning(
            "report will be retried",
            extra={
                "msg_id": message.report.msg_id,
                "status": message.report.status,
                "attempt": receive_count,
                "retry_in_seconds": delay,
                "reason": str(exc),
            },
        )
        try:
            delay_report(receipt_handle, delay)
        except (ClientError, BotoCoreError) as error:
            # It still comes back, after the queue's own visibility timeout.
            logger.error("report delay not set", extra={"msg_id": message.report.msg_id, "error": str(error)})
        raise
