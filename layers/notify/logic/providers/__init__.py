"""Delivery providers per channel: SES (email), SNS (sms), chat webhooks and the Slack Web API, the inbox.

Every provider either returns a Delivery or raises PermanentDeliveryError / TransientDeliveryError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from botocore.exceptions import BotoCoreError, ClientError

from notify.dal.definitions import get_provider_settings
from notify.dal.inbox import put_inbox_item
from notify.dal.providers import publish_sms, send_email
from notify.logic.providers.errors import PermanentDeliveryError, TransientDeliveryError
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

__all__ = ["Delivery", "PermanentDeliveryError", "Providers", "TransientDeliveryError"]

SLACK_API_BASE = "https://slack.com/api/"
# AWS error codes that mean "not now" rather than "never": throttling, quotas that refill, outages.
_TRANSIENT_AWS_CODES = {
    "Throttling",
    "ThrottlingException",
    "Throttled",
    "TooManyRequestsException",
    "LimitExceededException",
    "InternalFailure",
    "InternalError",
    "InternalErrorException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "KMSThrottlingException",
}
# Provider messages can quote the recipient (SES: "...failed the check: rahul@example.com"); reasons are
# logged and shown, so addresses in them are masked like everywhere else.
_ADDRESSES = re.compile(r"[^\s@:,;'\"]+@[^\s@:,;'\"]+|\+\d{6,15}")
_SLACK_TRANSIENT_ERRORS = {"ratelimited", "service_unavailable", "internal_error", "fatal_error", "request_timeout"}


@dataclass(frozen=True)
class Delivery:
    """What a provider accepted: its name and, when it gives one, its message id."""

    provider: str
    provider_message_id: str | None = None


def _aws_failure(exc: Exception, provider: str) -> Exception:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        message = _ADDRESSES.sub(
            lambda m: mask_destination(m.group()), exc.response.get("Error", {}).get("Message", "")
        )
        reason = f"{provider} rejected the message: {code}: {message}".rstrip(": ")
        if code in _TRANSIENT_AWS_CODES or status >= 500 or status == 429:
            return TransientDeliveryError(reason, provider=provider)
        return PermanentDeliveryError(reason, provider=provider)
    return TransientDeliveryError(f"{provider} unreachable: {type(exc).__name__}", provider=provider)


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
        try:
            message_id = send_email(
                sender=get_settings().email_from,
                to=message.destination,
                subject=rendered.subject or message.event,
                text=rendered.body,
                html=html if isinstance(html, str) else None,
            )
        except (ClientError, BotoCoreError) as exc:
            raise _aws_failure(exc, "ses") from exc
        return Delivery("ses", message_id)

    def _sms(self, message: NotificationMessage, rendered: RenderedMessage) -> Delivery:
        try:
            message_id = publish_sms(phone_number=message.destination, text=rendered.body)
        except (ClientError, BotoCoreError) as exc:
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
        except (ClientError, BotoCoreError) as exc:
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
            raise _aws_failure(exc, "settings") from exc
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
            found = self._slack_call(f"users.lookupByEmail?{query}", {}, headers)
            channel = str(found.get("user", {}).get("id", ""))
        posted = self._slack_call(
            "chat.postMessage", {"channel": channel, "text": rendered.body, **_pick(rendered.extras, "blocks")}, headers
        )
        return Delivery("slack-api", f"{posted.get('channel', channel)}:{posted.get('ts', '')}")

    def _slack_call(self, method: str, payload: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        response = self.http.post_json(SLACK_API_BASE + method, payload, SLACK_API, headers)
        raise_for_status(response, "slack-api")
        body = response.json()
        if not isinstance(body, dict):
            raise TransientDeliveryError("slack-api answered with an unreadable body", provider="slack-api")
        if not body.get("ok"):
            error = str(body.get("error", "unknown_error"))
            failure = TransientDeliveryError if error in _SLACK_TRANSIENT_ERRORS else PermanentDeliveryError
            raise failure(f"slack-api refused {method.split('?')[0]}: {error}", provider="slack-api")
        return body


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
