"""Provider events (docs/contract.md section 8): SES's delivery, bounce and complaint events, published through the
configuration set the sender uses to an SNS topic, recorded on the notification they belong to.

The sender tags each email with its msg_id, request_id and workspace (notify.logic.providers.aws); an event
without them is not ours and changes nothing. Each (msg_id, state) is recorded once (the same SNS message twice,
or SES's own repeat, changes nothing the second time); a hard bounce or a complaint suppresses the address in the
workspace first (idempotent, so a retry after a failure still gets there); then a report is queued.
"""

from __future__ import annotations

import json
from typing import Any

from notify.dal.delivery_log import record_provider_event
from notify.logic.providers.aws import mask_addresses
from notify.logic.reports import queue_report, report_for
from notify.logic.suppressions import suppress
from notify.models.channels import Channel
from notify.models.delivery import DeliveryState
from notify.models.limits import MAX_SUPPRESSION_DESCRIPTION_CHARACTERS
from notify.models.messages import NotificationMessage
from notify.observability import count, logger
from notify.timestamps import iso_utc

STATES = {"Delivery": DeliveryState.delivered, "Bounce": DeliveryState.bounced, "Complaint": DeliveryState.complained}


class NotAnSesEvent(ValueError):
    """An SNS message that is not SES's JSON: reported failed (Lambda retries, then its failure destination)."""


def _tag(mail: dict[str, Any], name: str) -> str | None:
    values = (mail.get("tags") or {}).get(name) or []
    return str(values[0]) if values else None


def _reason(state: DeliveryState, event: dict[str, Any]) -> str | None:
    """The provider's reason as the status route and the report show it, addresses masked."""
    if state is DeliveryState.delivered:
        smtp = (event.get("delivery") or {}).get("smtpResponse")
        return mask_addresses(f"delivered: {smtp}") if smtp else "delivered"
    if state is DeliveryState.bounced:
        bounce = event.get("bounce") or {}
        kind = "hard" if bounce.get("bounceType") == "Permanent" else "soft"
        codes = [r.get("diagnosticCode") for r in bounce.get("bouncedRecipients") or [] if r.get("diagnosticCode")]
        detail = f"{bounce.get('bounceType', '?')}/{bounce.get('bounceSubType', '?')}"
        return mask_addresses(f"{kind} bounce ({detail})" + (f": {codes[0]}" if codes else ""))
    feedback = (event.get("complaint") or {}).get("complaintFeedbackType") or "not given"
    return f"complaint ({feedback})"


def _suppressed_addresses(state: DeliveryState, event: dict[str, Any]) -> list[str]:
    """The addresses a hard bounce or a complaint puts on the suppression list (none for a soft bounce)."""
    if state is DeliveryState.bounced:
        bounce = event.get("bounce") or {}
        recipients = bounce.get("bouncedRecipients") if bounce.get("bounceType") == "Permanent" else []
    elif state is DeliveryState.complained:
        recipients = (event.get("complaint") or {}).get("complainedRecipients")
    else:
        recipients = []
    return [str(r["emailAddress"]) for r in recipients or [] if isinstance(r, dict) and r.get("emailAddress")]


def apply_ses_event(sns_message_id: str, body: str) -> str:
    """Record one SES event; returns what happened (`recorded`, `duplicate`, `ignored`, `unmatched`)."""
    try:
        event = json.loads(body)
        kind = event.get("eventType") or event.get("notificationType")
        mail = event["mail"]
    except (ValueError, TypeError, KeyError, AttributeError):
        raise NotAnSesEvent(f"SNS message {sns_message_id} is not an SES event") from None
    state = STATES.get(kind)
    if state is None:
        return "ignored"  # Send, Reject, Open...: nothing the status route shows
    msg_id, request_id, workspace = (_tag(mail, name) for name in ("msg_id", "request_id", "workspace"))
    context = {"sns_message_id": sns_message_id, "msg_id": msg_id, "state": state.value}
    if not (msg_id and request_id and workspace):
        logger.warning("provider event without the notification's tags", extra=context)
        count("ProviderEventsUnmatched")
        return "unmatched"
    reason = _reason(state, event)
    for address in _suppressed_addresses(state, event):
        suppress(
            workspace,
            Channel.email,
            destination=address,
            description=(reason or state.value)[:MAX_SUPPRESSION_DESCRIPTION_CHARACTERS],
        )
    applied = record_provider_event(request_id, msg_id, state=state, reason=reason, updated_at=iso_utc())
    if applied.record is None:
        logger.warning("provider event for a notification not recorded here", extra=context)
        count("ProviderEventsUnmatched")
        return "unmatched"
    if not applied.new:
        logger.info("provider event already recorded", extra=context)
        count("ProviderEventsDuplicate")
        return "duplicate"
    # SES's events are about emails; a record of a notification that never recorded an attempt names no channel.
    channel = (applied.record.channel or Channel.email).value
    count(f"Notifications{state.value.capitalize()}", channel=channel)
    logger.info("provider event recorded", extra={**context, "reason": reason})
    callback = NotificationMessage.model_validate_json(applied.message).callback if applied.message else None
    queue_report(
        report_for(
            workspace,
            callback,
            request_id=request_id,
            msg_id=msg_id,
            channel=channel,
            destination=applied.record.destination or "",
            status=state.value,
            reason=reason,
            provider_message_id=mail.get("messageId"),
        )
    )
    return "recorded"
