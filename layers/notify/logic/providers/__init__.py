"""Delivery providers per channel: SES (email), SNS (sms), chat webhooks and the Slack Web API, the inbox.

Every provider either returns a Delivery or raises PermanentDeliveryError, TransientDeliveryError (the
provider certainly did not take it: retried) or UnknownOutcomeError (it may have: never sent again, R8).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ParamValidationError,
)
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from notify.dal.clients import PROVIDER_CALL_SECONDS
from notify.dal.inbox import put_inbox_item
from notify.dal.provider_secrets import get_provider_settings
from notify.dal.providers import publish_sms, send_email
from notify.logic import budget
from notify.logic.providers.errors import PermanentDeliveryError, TransientDeliveryError, UnknownOutcomeError
from notify.logic.providers.webhooks import (
    SLACK_API,
    WEBHOOK_RULES,
    HttpClient,
    HttpResponse,
    raise_for_status,
)
from notify.logic.templates import RenderedMessage
from notify.models.channels import Channel
from notify.models.messages import NotificationMessage
from notify.observability import mask_destination
from notify.settings import get_settings

__all__ = ["Delivery", "PermanentDeliveryError", "Providers", "TransientDeliveryError", "UnknownOutcomeError"]

SLACK_API_BASE = "https://slack.com/api/"
# AWS error codes of an explicit throttle: AWS answered, and refused to take the message now. Only these,
# and failures before the request left (no connection), are retried; a 5xx may follow an accepted message.
_THROTTLING_AWS_CODES = {
    "Throttling",
    "ThrottlingException",
    "Throttled",
    "TooManyRequestsException",
    "LimitExceededException",
    "KMSThrottlingException",
}
# Provider messages can quote the recipient (SES: "...failed the check: rahul@example.com"); reasons are
# logged and shown, so addresses in them are masked like everywhere else.
_ADDRESSES = re.compile(r"[^\s@:,;'\"]+@[^\s@:,;'\"]+|\+\d{6,15}")
# Slack answers that say the message was not taken (retried), and those after which it may have been (Slack:
# "it's possible some aspect of the operation succeeded"): for chat.postMessage these are unknown (R8).
_SLACK_NOT_TAKEN_ERRORS = {"ratelimited", "request_timeout"}
_SLACK_MAYBE_TAKEN_ERRORS = {"service_unavailable", "internal_error", "fatal_error"}
# A long answer is read only in part (MAX_RESPONSE_BYTES); Slack puts `ok` first, then `channel` and `ts`.
_SLACK_OK_PREFIX = re.compile(rb'^\s*\{\s*"ok"\s*:\s*(true|false)')
_SLACK_FIELD = {name: re.compile(rb'"' + name.encode() + rb'"\s*:\s*"([^"\\]{1,200})"') for name in ("channel", "ts")}


@dataclass(frozen=True)
class Delivery:
    """What a provider accepted: its name and, when it gives one, its message id."""

    provider: str
    provider_message_id: str | None = None


def _aws_failure(exc: Exception, provider: str) -> Exception:
    """Classify a provider call's failure by whether the provider may have taken the message (R8)."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        message = _ADDRESSES.sub(
            lambda m: mask_destination(m.group()), exc.response.get("Error", {}).get("Message", "")
        )
        reason = f"{provider} rejected the message: {code}: {message}".rstrip(": ")
        if code in _THROTTLING_AWS_CODES or status == 429:
            return TransientDeliveryError(reason, provider=provider)
        if status >= 500:
            return UnknownOutcomeError(f"{provider} failed after receiving the message: {code} ({status})", provider)
        return PermanentDeliveryError(reason, provider=provider)
    if isinstance(exc, BotocoreConnectionError | NoCredentialsError):
        # No connection was made (refused, DNS, connect timeout, TLS, proxy), or nothing could be signed.
        return TransientDeliveryError(f"{provider} unreachable: {type(exc).__name__}", provider=provider)
    if isinstance(exc, ParamValidationError):
        return PermanentDeliveryError(f"{provider} refused the parameters: {type(exc).__name__}", provider=provider)
    # Read timeout, connection closed, unparsable answer...: the request left, the answer did not come back.
    return UnknownOutcomeError(f"{provider} gave no answer after the request was sent ({type(exc).__name__})", provider)


def _is_webhook(destination: str) -> bool:
    return destination.lower().startswith(("https://", "http://"))


@dataclass
class Providers:
    """The providers of one sender container; `http` is injectable so tests never reach the internet."""

    http: HttpClient = field(default_factory=lambda: HttpClient(timeout=get_settings().webhook_timeout_seconds))

    def check_configured(self, message: NotificationMessage) -> None:
        """Raise PermanentDeliveryError when no provider serves this channel and destination (live or test)."""
        _check_channel_has_provider(message)
        if message.channel is Channel.slack and not _is_webhook(message.destination):
            self._require_slack_token(message)

    def deliver(self, message: NotificationMessage, rendered: RenderedMessage) -> Delivery:
        """Hand the rendered notification to its channel's provider."""
        _check_channel_has_provider(message)
        match message.channel:
            case Channel.email:
                return self._email(message, rendered)
            case Channel.sms:
                return self._sms(message, rendered)
            case Channel.inapp:
                return self._inapp(message, rendered)
            case Channel.slack:
                if _is_webhook(message.destination):
                    return self._webhook(message, {"text": rendered.body, **_pick(rendered.extras, "blocks")})
                return self._slack_api(message, rendered, self._require_slack_token(message))
            case Channel.discord:
                return self._discord(message, rendered)
            case Channel.teams:
                return self._webhook(message, {"text": rendered.body})
        raise PermanentDeliveryError(f"no provider is configured for the {message.channel.value} channel")

    def _email(self, message: NotificationMessage, rendered: RenderedMessage) -> Delivery:
        html = rendered.extras.get("html")
        budget.call_timeout(PROVIDER_CALL_SECONDS, "ses", whole=True)
        try:
            message_id = send_email(
                sender=get_settings().email_from,
                to=message.destination,
                subject=rendered.subject or message.event,
                text=rendered.body,
                html=html if isinstance(html, str) else None,
            )
        except Exception as exc:  # botocore's parser errors are not BotoCoreErrors; every one is classified
            raise _aws_failure(exc, "ses") from exc
        return Delivery("ses", message_id)

    def _sms(self, message: NotificationMessage, rendered: RenderedMessage) -> Delivery:
        budget.call_timeout(PROVIDER_CALL_SECONDS, "sns", whole=True)
        try:
            message_id = publish_sms(phone_number=message.destination, text=rendered.body)
        except Exception as exc:  # as in _email
            raise _aws_failure(exc, "sns") from exc
        return Delivery("sns", message_id)

    def _inapp(self, message: NotificationMessage, rendered: RenderedMessage) -> Delivery:
        now = datetime.now(UTC)
        item: dict[str, Any] = {
            "msg_id": message.msg_id,
            "request_id": message.request_id,
            "event": message.event,
            "subject": rendered.subject,
            "body": rendered.body,
            "extras": rendered.extras or None,
            "read": False,
            "created_at": now.isoformat(timespec="milliseconds"),
            "expires_at": int((now + timedelta(days=get_settings().inbox_retention_days)).timestamp()),
        }
        try:
            put_inbox_item(message.workspace, message.destination, item)
        except Exception as exc:  # as in _email: a write that may have landed is not made again
            raise _aws_failure(exc, "inbox") from exc
        return Delivery("inbox", message.msg_id)

    def _webhook(self, message: NotificationMessage, payload: dict[str, Any], url: str | None = None) -> Delivery:
        provider = f"{message.channel.value}-webhook"
        response = self.http.post_json(url or message.destination, payload, WEBHOOK_RULES[message.channel])
        raise_for_status(response, provider)
        return Delivery(provider, _message_id_of(response))

    def _discord(self, message: NotificationMessage, rendered: RenderedMessage) -> Delivery:
        # ?wait=true makes Discord answer with the created message, so its id can be recorded.
        url = message.destination
        if "wait=" not in url:
            url += ("&" if "?" in url else "?") + "wait=true"
        return self._webhook(message, {"content": rendered.body, **_pick(rendered.extras, "username", "embeds")}, url)

    def _require_slack_token(self, message: NotificationMessage) -> str:
        try:
            token = get_provider_settings(message.workspace).slack_bot_token
        except (ClientError, BotoCoreError) as exc:
            # Reading a secret sends nothing to anyone: always safe to retry.
            raise TransientDeliveryError(f"provider secrets unavailable: {type(exc).__name__}", "settings") from exc
        if token is None:
            raise PermanentDeliveryError(
                "no slack provider configured: the destination is not a webhook URL and the workspace has no bot token"
            )
        return token.get_secret_value()

    def _slack_api(self, message: NotificationMessage, rendered: RenderedMessage, token: str) -> Delivery:
        """A user email, user id or channel, through chat.postMessage with the workspace's bot token."""
        headers = {"Authorization": f"Bearer {token}"}
        channel = message.destination
        if "@" in channel:
            query = urlencode({"email": channel})
            try:
                found = self._slack_call(f"users.lookupByEmail?{query}", {}, headers)
            except UnknownOutcomeError as exc:
                # A lookup delivers nothing: whatever happened to it, asking again cannot notify twice.
                raise TransientDeliveryError(exc.reason, provider="slack-api") from exc
            channel = str(found.get("user", {}).get("id", ""))
        posted = self._slack_call(
            "chat.postMessage", {"channel": channel, "text": rendered.body, **_pick(rendered.extras, "blocks")}, headers
        )
        return Delivery("slack-api", f"{posted.get('channel', channel)}:{posted.get('ts', '')}")

    def _slack_call(self, method: str, payload: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        name = method.split("?")[0]
        response = self.http.post_json(SLACK_API_BASE + method, payload, SLACK_API, headers)
        if response.status == 429:
            raise TransientDeliveryError(f"slack-api throttled {name} (429)", provider="slack-api")
        raise_for_status(response, "slack-api")
        body = _slack_answer(response)
        if body is None:
            # A 2xx whose `ok` cannot be read: Slack may have posted it, so it is not posted again (R8).
            raise UnknownOutcomeError(f"slack-api answered {name} with an unreadable body", provider="slack-api")
        if not body.get("ok"):
            error = str(body.get("error", "unknown_error"))
            reason = f"slack-api refused {name}: {error}"
            if error in _SLACK_NOT_TAKEN_ERRORS:
                raise TransientDeliveryError(reason, provider="slack-api")
            if error in _SLACK_MAYBE_TAKEN_ERRORS:
                raise UnknownOutcomeError(reason, provider="slack-api")
            raise PermanentDeliveryError(reason, provider="slack-api")
        return body


def _slack_answer(response: HttpResponse) -> dict[str, Any] | None:
    """Slack's answer, or None when its `ok` cannot be read. An answer longer than what is read (a posted
    message is echoed back whole) is judged by its beginning: `ok`, `channel` and `ts` come first."""
    body = response.json()
    if isinstance(body, dict):
        return body
    start = _SLACK_OK_PREFIX.match(response.body)
    if not response.truncated or start is None:
        return None
    answer: dict[str, Any] = {"ok": start.group(1) == b"true"}
    for name, pattern in _SLACK_FIELD.items():
        found = pattern.search(response.body)
        if found is not None:
            answer[name] = found.group(1).decode("utf-8", "replace")
    return answer


def _check_channel_has_provider(message: NotificationMessage) -> None:
    if message.channel is Channel.email and not get_settings().email_from:
        raise PermanentDeliveryError("no email provider configured: the sender address (EMAIL_FROM) is not set")
    if message.channel in (Channel.push, Channel.whatsapp, Channel.voice):
        raise PermanentDeliveryError(f"no provider is configured for the {message.channel.value} channel")


def _pick(extras: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: extras[name] for name in names if name in extras}


def _message_id_of(response: HttpResponse) -> str | None:
    body = response.json()
    if isinstance(body, dict) and body.get("id") is not None:
        return str(body["id"])
    return None
