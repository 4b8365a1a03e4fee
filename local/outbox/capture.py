"""Keep what moto's SES drops: moto stores an email's HTML part as its body and discards the text part, so
the outbox records each SES v2 `SendEmail`'s whole content, by MessageId, as the message leaves moto."""

from __future__ import annotations

import contextlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import wraps
from typing import Any

# Emails kept (oldest dropped first): a bulk request of 1000 fits; the stress test's thousands need not.
MAX_EMAILS_KEPT = 5000


@dataclass(frozen=True)
class SentEmail:
    """An email as SES accepted it."""

    message_id: str
    sender: str
    to: list[str]
    subject: str
    text: str | None
    html: str | None


_lock = threading.Lock()
_sent: OrderedDict[str, SentEmail] = OrderedDict()


def capture_sent_emails() -> None:
    """Wrap moto's SES v2 SendEmail handler (idempotent; moto runs in this process, local/moto_backend.py)."""
    from moto.sesv2.responses import SESV2Response

    original = SESV2Response.send_email
    if getattr(original, "_captured", False):
        return

    @wraps(original)
    def send_email(self: SESV2Response) -> str:
        answer = original(self)
        # An answer without a MessageId (an error) sent nothing.
        with contextlib.suppress(ValueError, KeyError, TypeError):
            _keep(json.loads(self.body), json.loads(answer)["MessageId"])
        return answer

    send_email.__dict__["_captured"] = True
    SESV2Response.send_email = send_email  # type: ignore[method-assign]


def _keep(request: dict[str, Any], message_id: str) -> None:
    simple = request.get("Content", {}).get("Simple")
    if not isinstance(simple, dict):
        return
    body = simple.get("Body", {})
    email = SentEmail(
        message_id=message_id,
        sender=str(request.get("FromEmailAddress", "")),
        to=list(request.get("Destination", {}).get("ToAddresses", [])),
        subject=str(simple.get("Subject", {}).get("Data", "")),
        text=body.get("Text", {}).get("Data"),
        html=body.get("Html", {}).get("Data"),
    )
    with _lock:
        _sent[message_id] = email
        while len(_sent) > MAX_EMAILS_KEPT:
            _sent.popitem(last=False)


def sent_email(message_id: str) -> SentEmail | None:
    """The email SES v2 accepted under `message_id`, or None (another process's moto, or dropped)."""
    with _lock:
        return _sent.get(message_id)
