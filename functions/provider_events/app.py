"""Provider events: SES's delivery, bounce and complaint events (configuration set -> SNS -> here) recorded on
their notifications, with their reports and, for a hard bounce or a complaint, a suppression (docs/api.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from notify.environment import require_environment
from notify.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

require_environment("provider_events")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[str]]:
    """SNS invokes with one record; raising makes Lambda retry it (each record is applied once whatever repeats)."""
    from notify.logic.provider_events import apply_ses_event

    outcomes = [apply_ses_event(r["Sns"]["MessageId"], r["Sns"]["Message"]) for r in event.get("Records", [])]
    return {"outcomes": outcomes}
