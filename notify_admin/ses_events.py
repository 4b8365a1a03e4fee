"""SES events as SES publishes them through a configuration set to SNS, for the local stack, which has no SES to
send them (`python -m notify_admin play-ses-event`), and for tests: the same shape the provider-events function
reads on AWS (https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from notify.timestamps import iso_utc

KINDS = ("delivery", "soft-bounce", "hard-bounce", "complaint")


def ses_event(
    kind: str, *, address: str, msg_id: str, request_id: str, workspace: str, ses_message_id: str | None = None
) -> dict[str, Any]:
    """One SES event of `kind` (KINDS) about an email to `address`, tagged as the sender tags what it sends."""
    now = iso_utc()
    mail = {
        "timestamp": now,
        "messageId": ses_message_id or str(uuid.uuid4()),
        "source": "notifications@example.com",
        "destination": [address],
        "tags": {"msg_id": [msg_id], "request_id": [request_id], "workspace": [workspace]},
    }
    if kind == "delivery":
        detail: dict[str, Any] = {
            "delivery": {"timestamp": now, "recipients": [address], "smtpResponse": "250 2.0.0 OK"}
        }
        event_type = "Delivery"
    elif kind in ("soft-bounce", "hard-bounce"):
        hard = kind == "hard-bounce"
        detail = {
            "bounce": {
                "bounceType": "Permanent" if hard else "Transient",
                "bounceSubType": "General" if hard else "MailboxFull",
                "timestamp": now,
                "bouncedRecipients": [
                    {
                        "emailAddress": address,
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown" if hard else "smtp; 452 4.2.2 mailbox full",
                    }
                ],
            }
        }
        event_type = "Bounce"
    elif kind == "complaint":
        detail = {
            "complaint": {
                "timestamp": now,
                "complainedRecipients": [{"emailAddress": address}],
                "complaintFeedbackType": "abuse",
            }
        }
        event_type = "Complaint"
    else:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    return {"eventType": event_type, "mail": mail, **detail}


def ses_event_json(*args: Any, **kwargs: Any) -> str:
    return json.dumps(ses_event(*args, **kwargs))
