"""The providers AWS runs: SES (email), SNS (sms) and the inbox table (inapp).

A failed call is classified by whether the provider may have taken the message (R8): an explicit throttle
or no connection is retried, a 5xx or a lost answer is unknown and never sent again.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError, NoCredentialsError, ParamValidationError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from notify.dal.clients import PROVIDER_CALL_SECONDS
from notify.dal.inbox import put_inbox_item
from notify.dal.providers import publish_sms, send_email
from notify.logic import budget
from notify.logic.providers.errors import (
    Delivery,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from notify.logic.templates import RenderedMessage
from notify.models.messages import NotificationMessage
from notify.observability import mask_destination
from notify.settings import get_settings

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
# logged and shown, so addresses in them are masked like everywhere else. An address starts only where a word
# does (the lookbehind): tried at every position of a long word, `[^...]+@` rescanned it each time (quadratic,
# 1.6 s for 30,000 characters); now each word is scanned once, whatever the message's length.
_WORD = r"[^\s@:,;'\"]"
_ADDRESSES = re.compile(rf"(?<!{_WORD}){_WORD}+@{_WORD}+|\+\d{{6,15}}")


def mask_addresses(text: str) -> str:
    """`text` with every email address and phone number in it masked (a provider's message quotes them)."""
    return _ADDRESSES.sub(lambda m: mask_destination(m.group()), text)


def deliver_email(message: NotificationMessage, rendered: RenderedMessage) -> Delivery:
    html = rendered.extras.get("html")
    budget.call_timeout(PROVIDER_CALL_SECONDS, "ses", whole=True)
    try:
        message_id = send_email(
            sender=get_settings().email_from,
            to=message.destination,
            subject=rendered.subject or message.event,
            text=rendered.body,
            html=html if isinstance(html, str) else None,
            configuration_set=get_settings().ses_configuration_set or None,
            # How SES's events find the notification again (notify.logic.provider_events).
            tags={"msg_id": message.msg_id, "request_id": message.request_id, "workspace": message.workspace},
        )
    except Exception as exc:  # botocore's parser errors are not BotoCoreErrors; every one is classified
        raise aws_failure(exc, "ses") from exc
    return Delivery("ses", message_id)


def deliver_sms(message: NotificationMessage, rendered: RenderedMessage) -> Delivery:
    budget.call_timeout(PROVIDER_CALL_SECONDS, "sns", whole=True)
    try:
        message_id = publish_sms(phone_number=message.destination, text=rendered.body)
    except Exception as exc:  # as in deliver_email
        raise aws_failure(exc, "sns") from exc
    return Delivery("sns", message_id)


def deliver_inapp(message: NotificationMessage, rendered: RenderedMessage) -> Delivery:
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
    except Exception as exc:  # as in deliver_email: a write that may have landed is not made again
        raise aws_failure(exc, "inbox") from exc
    return Delivery("inbox", message.msg_id)


# SES refusals a new account meets before its first delivery: say what to do (docs/deploy.md).
_DOCTOR = "run `python -m notify_admin --stack-name <stack> doctor` and see docs/deploy.md"
_SES_SETUP_HINTS = {
    "MessageRejected": (
        f" (the sender identity is not verified, or the account is in the SES sandbox and the recipient is not "
        f"verified: {_DOCTOR})"
    ),
    "MailFromDomainNotVerifiedException": f" (the sender's domain is not verified: {_DOCTOR})",
    "AccountSuspendedException": f" (the SES account is suspended for sending: {_DOCTOR})",
    "SendingPausedException": f" (sending is paused for the SES account: {_DOCTOR})",
}


def aws_failure(exc: Exception, provider: str) -> Exception:
    """Classify a provider call's failure by whether the provider may have taken the message (R8)."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        message = mask_addresses(exc.response.get("Error", {}).get("Message", ""))
        reason = f"{provider} rejected the message: {code}: {message}".rstrip(": ")
        if code in _THROTTLING_AWS_CODES or status == 429:
            return TransientDeliveryError(reason, provider=provider)
        if status >= 500:
            return UnknownOutcomeError(f"{provider} failed after receiving the message: {code} ({status})", provider)
        return PermanentDeliveryError(
            reason + _SES_SETUP_HINTS.get(code, "") if provider == "ses" else reason, provider
        )
    if isinstance(exc, BotocoreConnectionError | NoCredentialsError):
        # No connection was made (refused, DNS, connect timeout, TLS, proxy), or nothing could be signed.
        return TransientDeliveryError(f"{provider} unreachable: {type(exc).__name__}", provider=provider)
    if isinstance(exc, ParamValidationError):
        return PermanentDeliveryError(f"{provider} refused the parameters: {type(exc).__name__}", provider=provider)
    # Read timeout, connection closed, unparsable answer...: the request left, the answer did not come back.
    return UnknownOutcomeError(f"{provider} gave no answer after the request was sent ({type(exc).__name__})", provider)
