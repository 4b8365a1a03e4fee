"""Chat providers: incoming webhooks (Slack, Discord, Teams) and the Slack Web API with a workspace's bot token.

Every HTTP call goes through the injected HttpClient (webhooks.py: pinned, checked hosts, bounded answers).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from botocore.exceptions import BotoCoreError, ClientError

from notify.dal.provider_secrets import get_provider_settings
from notify.logic.providers.errors import (
    Delivery,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from notify.logic.providers.webhooks import (
    SLACK_API,
    WEBHOOK_RULES,
    HttpClient,
    HttpResponse,
    raise_for_status,
)
from notify.logic.templates import RenderedMessage
from notify.models.messages import NotificationMessage

SLACK_API_BASE = "https://slack.com/api/"
# Slack answers that say the message was not taken (retried), and those after which it may have been (Slack:
# "it's possible some aspect of the operation succeeded"): for chat.postMessage these are unknown (R8).
_SLACK_NOT_TAKEN_ERRORS = {"ratelimited", "request_timeout"}
_SLACK_MAYBE_TAKEN_ERRORS = {"service_unavailable", "internal_error", "fatal_error"}
# A long answer is read only in part (MAX_RESPONSE_BYTES); Slack puts `ok` first, then `channel` and `ts`.
_SLACK_OK_PREFIX = re.compile(rb'^\s*\{\s*"ok"\s*:\s*(true|false)')
_SLACK_FIELD = {name: re.compile(rb'"' + name.encode() + rb'"\s*:\s*"([^"\\]{1,200})"') for name in ("channel", "ts")}


def post_webhook(
    http: HttpClient, message: NotificationMessage, payload: dict[str, Any], url: str | None = None
) -> Delivery:
    provider = f"{message.channel.value}-webhook"
    response = http.post_json(url or message.destination, payload, WEBHOOK_RULES[message.channel])
    raise_for_status(response, provider)
    return Delivery(provider, _message_id_of(response))


def post_discord(http: HttpClient, message: NotificationMessage, rendered: RenderedMessage) -> Delivery:
    # ?wait=true makes Discord answer with the created message, so its id can be recorded.
    url = message.destination
    if "wait=" not in url:
        url += ("&" if "?" in url else "?") + "wait=true"
    return post_webhook(http, message, {"content": rendered.body, **pick(rendered.extras, "username", "embeds")}, url)


def slack_bot_token(message: NotificationMessage) -> str:
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


def post_slack_api(http: HttpClient, message: NotificationMessage, rendered: RenderedMessage, token: str) -> Delivery:
    """A user email, user id or channel, through chat.postMessage with the workspace's bot token."""
    headers = {"Authorization": f"Bearer {token}"}
    channel = message.destination
    if "@" in channel:
        query = urlencode({"email": channel})
        try:
            found = _slack_call(http, f"users.lookupByEmail?{query}", {}, headers)
        except UnknownOutcomeError as exc:
            # A lookup delivers nothing: whatever happened to it, asking again cannot notify twice.
            raise TransientDeliveryError(exc.reason, provider="slack-api") from exc
        channel = str(found.get("user", {}).get("id", ""))
    posted = _slack_call(
        http,
        "chat.postMessage",
        {"channel": channel, "text": rendered.body, **pick(rendered.extras, "blocks")},
        headers,
    )
    return Delivery("slack-api", f"{posted.get('channel', channel)}:{posted.get('ts', '')}")


def _slack_call(http: HttpClient, method: str, payload: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    name = method.split("?")[0]
    response = http.post_json(SLACK_API_BASE + method, payload, SLACK_API, headers)
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


def pick(extras: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: extras[name] for name in names if name in extras}


def _message_id_of(response: HttpResponse) -> str | None:
    body = response.json()
    if isinstance(body, dict) and body.get("id") is not None:
        return str(body["id"])
    return None
