"""Delivery providers per channel, and the dispatcher the sender calls: aws.py (SES, SNS, the inbox), chat.py
(webhooks and the Slack Web API), webhooks.py (the HTTP client they use), errors.py (what a delivery ends in).

Every provider either returns a Delivery or raises PermanentDeliveryError, TransientDeliveryError (the
provider certainly did not take it: retried) or UnknownOutcomeError (it may have: never sent again, R8).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from notify.logic.providers.aws import deliver_email, deliver_inapp, deliver_sms
from notify.logic.providers.chat import pick, post_discord, post_slack_api, post_webhook, slack_bot_token
from notify.logic.providers.errors import (
    Delivery,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from notify.logic.providers.webhooks import HttpClient
from notify.logic.templates import RenderedMessage
from notify.models.channels import Channel
from notify.models.messages import NotificationMessage
from notify.settings import get_settings

__all__ = ["Delivery", "PermanentDeliveryError", "Providers", "TransientDeliveryError", "UnknownOutcomeError"]


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
            slack_bot_token(message)

    def deliver(self, message: NotificationMessage, rendered: RenderedMessage) -> Delivery:
        """Hand the rendered notification to its channel's provider."""
        _check_channel_has_provider(message)
        match message.channel:
            case Channel.email:
                return deliver_email(message, rendered)
            case Channel.sms:
                return deliver_sms(message, rendered)
            case Channel.inapp:
                return deliver_inapp(message, rendered)
            case Channel.slack:
                if _is_webhook(message.destination):
                    return post_webhook(self.http, message, {"text": rendered.body, **pick(rendered.extras, "blocks")})
                return post_slack_api(self.http, message, rendered, slack_bot_token(message))
            case Channel.discord:
                return post_discord(self.http, message, rendered)
            case Channel.teams:
                return post_webhook(self.http, message, {"text": rendered.body})
        raise PermanentDeliveryError(f"no provider is configured for the {message.channel.value} channel")


def _check_channel_has_provider(message: NotificationMessage) -> None:
    if message.channel is Channel.email and not get_settings().email_from:
        raise PermanentDeliveryError("no email provider configured: the sender address (EMAIL_FROM) is not set")
    if message.channel in (Channel.push, Channel.whatsapp, Channel.voice):
        raise PermanentDeliveryError(f"no provider is configured for the {message.channel.value} channel")
