"""Automations API: a configured list of steps, each an event sent to a recipient from the payload."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jmespath
import jmespath.exceptions
from pydantic import ValidationError

from notify.dal.cancellations import remember_steps
from notify.dal.delivery_log import KeptManifests
from notify.dal.queue import SQS_MAX_DELAY_SECONDS, Outgoing
from notify.errors import RequestValidationError
from notify.logic.cancellations import cancellable_step_items, read_cancellation_key
from notify.logic.definitions import require_automation, require_event_definition
from notify.logic.idempotency import RequestScope
from notify.logic.notifications import (
    NoChannelToSend,
    build_notifications,
    channels_to_send,
    check_answer_size,
    missing_template_data,
    receipts,
    record_then_queue,
    skipped_reasons,
)
from notify.logic.recipients import Destinations, resolve_destinations
from notify.logic.recipients import Recipient as ResolvedRecipient
from notify.logic.reports import unknown_endpoints, unknown_endpoints_message
from notify.logic.responses import StoredResponse
from notify.logic.status import record_request
from notify.logic.suppressions import suppressed_reasons
from notify.logic.templates import TrialRenders
from notify.models.channels import Channel
from notify.models.definitions import AutomationDefinition, AutomationStep, EventDefinition
from notify.models.delivery import RequestManifest
from notify.models.limits import key_name_problem
from notify.models.requests import Delivery, Recipient
from notify.models.responses import AutomationAccepted, AutomationStepReceipt, ChannelReceipts
from notify.timestamps import iso_utc


@dataclass(frozen=True)
class PlannedStep:
    number: int
    step: AutomationStep
    delivery: Delivery
    channels: dict[Channel, str]
    definition: EventDefinition


class CannotEvaluate(ValueError):
    """A step's JMESPath expression failed on this payload (a type error, say); the message quotes no value."""


def _evaluate(expression: str, payload: Any) -> Any:
    try:
        return jmespath.search(expression, payload)
    except jmespath.exceptions.JMESPathTypeError as exc:
        expected = ", ".join(exc.expected_types)
        raise CannotEvaluate(
            f"the expression '{expression}' cannot be evaluated against this payload: "
            f"{exc.function_name}() expects {expected}, and got {exc.actual_type}"
        ) from None
    except jmespath.exceptions.JMESPathError as exc:
        raise CannotEvaluate(
            f"the expression '{expression}' cannot be evaluated against this payload ({type(exc).__name__})"
        ) from None


def _object_from(expression: str | None, payload: Any, *, field: str, default: Any) -> dict[str, Any] | None:
    """A step's expression that must yield an object or null; without an expression, `default`."""
    value = _evaluate(expression, payload) if expression else default
    if value is not None and not isinstance(value, dict):
        raise CannotEvaluate(f"the {field} expression must yield an object")
    return value


def plan_automation(workspace: str, automation: AutomationDefinition, payload: Any) -> list[PlannedStep]:
    """Resolve every step against the payload before anything runs; one 400 names every step that fails.
    Errors name the step and the field, never a payload value (payloads carry addresses)."""
    planned: list[PlannedStep] = []
    errors: list[dict[str, Any]] = []
    for number, step in enumerate(automation.steps, start=1):
        definition = require_event_definition(workspace, step.event)
        found: dict[Channel, Any] = {}
        for channel, expression in step.to.items():
            try:
                found[channel] = _evaluate(expression, payload)
            except CannotEvaluate as exc:
                errors.append({"step": number, "field": f"to.{channel.value}", "message": str(exc)})
        if len(found) < len(step.to):
            continue
        destinations = {channel: value for channel, value in found.items() if value not in (None, "")}
        distinct_id: Any = None
        if step.distinct_id:
            try:
                distinct_id = _evaluate(step.distinct_id, payload)
            except CannotEvaluate as exc:
                errors.append({"step": number, "field": "distinct_id", "message": str(exc)})
                continue
            if distinct_id is not None and not isinstance(distinct_id, str):
                message = "the distinct_id expression must yield a string"
                errors.append({"step": number, "field": "distinct_id", "message": message})
                continue
        if not destinations and not distinct_id:
            wanted = ", ".join(f"{c.value} from '{e}'" for c, e in step.to.items()) or f"'{step.distinct_id}'"
            errors.append({"step": number, "field": "to", "message": f"the payload yields no recipient ({wanted})"})
            continue
        objects: dict[str, Any] = {}
        try:
            # The step's callback (docs/contract.md section 8) is its expression over the payload; null asks for none.
            for field, found_by, default in (("data", step.data, payload), ("callback", step.callback, None)):
                objects[field] = _object_from(found_by, payload, field=field, default=default)
        except CannotEvaluate as exc:
            errors.append({"step": number, "field": field, "message": str(exc)})
            continue
        data, callback = objects["data"] or {}, objects["callback"]
        try:
            recipient = Recipient.model_validate(destinations)
            delivery = Delivery(to=recipient, distinct_id=distinct_id or None, data=data, callback=callback)
            # With a distinct_id, the profile fills the rest, inside the claim (notify.logic.recipients).
            channels = channels_to_send(recipient, definition) if not distinct_id else recipient.destinations()
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                loc = [str(part) for part in error["loc"]]
                field = ".".join(loc if loc[:1] in (["to"], ["distinct_id"], ["data"], ["callback"]) else ["to", *loc])
                errors.append({"step": number, "field": field, "message": error["msg"]})
            continue
        except NoChannelToSend as exc:
            errors.append({"step": number, "field": "to", "message": str(exc)})
            continue
        planned.append(PlannedStep(number, step, delivery, channels, definition))
    if not errors:
        errors = _unknown_endpoint_errors(workspace, planned)
    if errors:
        first = errors[0]
        raise RequestValidationError(
            f"The payload does not fit automation '{automation.id}': step {first['step']}: "
            f"{first['field']}: {first['message']}",
            errors=errors,
        )
    return planned


def _unknown_endpoint_errors(workspace: str, steps: list[PlannedStep]) -> list[dict[str, Any]]:
    """A step whose callback names an endpoint the workspace lacks is a 400 naming the step (one read in all)."""
    unknown = set(unknown_endpoints(workspace, [planned.delivery.callback for planned in steps]))
    errors = []
    for planned in steps:
        callback = planned.delivery.callback
        names = sorted(unknown.intersection(callback.allowlist_urls or [])) if callback is not None else []
        if names:
            message = unknown_endpoints_message(names)
            errors.append({"step": planned.number, "field": "callback.allowlist_urls", "message": message})
    return errors


def step_destinations(scope: RequestScope, steps: list[PlannedStep]) -> dict[int, Destinations]:
    """Each step's destinations by step number: `to`, then the profile of its distinct_id (one 400 naming every
    step whose profile is unknown and whose `to` gives nothing, whose channels are all missing, or whose data
    lacks a variable a template of the step needs)."""
    found = resolve_destinations(scope, [ResolvedRecipient(p.number, p.delivery, p.definition) for p in steps])
    trial = TrialRenders()
    errors: list[dict[str, Any]] = []
    for planned in steps:
        if found[planned.number].unknown_profile and planned.delivery.distinct_id is not None:
            message = f"no profile '{planned.delivery.distinct_id}'"
            errors.append({"step": planned.number, "field": "distinct_id", "message": message})
        elif not found[planned.number].channels:
            defined = ", ".join(sorted(c.value for c in planned.definition.channels))
            errors.append({"step": planned.number, "field": "to", "message": f"must include one of: {defined}"})
        elif not found[planned.number].skipped:  # an inactive profile is sent nothing, so needs nothing
            # Each step's data (its `data` expression over the payload) fills the step's templates (D8).
            channels = found[planned.number].channels
            for problem in missing_template_data(trial, planned.definition, channels, planned.delivery.data):
                errors.append({"step": planned.number, "field": "data", "message": problem})
    if errors:
        first = errors[0]
        raise RequestValidationError(
            f"The payload does not fit the automation: step {first['step']}: {first['field']}: {first['message']}",
            errors=errors,
        )
    return found


def require_automation_id(automation_id: str) -> None:
    """An id that cannot be a DynamoDB key is a client mistake (400), not a store failure (503)."""
    problem = key_name_problem(automation_id)
    if problem is not None:
        raise RequestValidationError(
            f"Invalid automation id: {problem}", errors=[{"field": "automation_id", "message": problem}]
        )


def accept_automation(
    scope: RequestScope, automation_id: str, payload: Any, headers: Mapping[str, str] | None = None
) -> StoredResponse:
    """Queue every step's notifications with its delay (chained past SQS's 15 minutes); 202 with each
    step's per-channel status, or a stored 500 when nothing was queued. With a `Cancellation-Key` header, each
    step is indexed for the cancel route with the run's request record (C2)."""
    cancellation_key = read_cancellation_key(headers or {})
    require_automation_id(automation_id)
    automation = require_automation(scope.workspace, automation_id)
    steps = plan_automation(scope.workspace, automation, payload)
    found = step_destinations(scope, steps)
    received = scope.received()
    request_id = scope.request_id()
    dedupe_until = scope.dedupe_until()
    outgoing: list[Outgoing] = []
    planned_messages = []
    skipped: dict[str, str] = {}
    for planned in steps:
        messages = build_notifications(
            scope,
            request_id,
            planned.number,
            planned.step.event,
            planned.delivery,
            found[planned.number].channels,
            dedupe_until,
        )
        skipped.update(skipped_reasons(messages, found[planned.number]))
        planned_messages.append((planned, messages))
    # One read of the suppression list for every step (one BatchGetItem per 100 destinations).
    unskipped = [m for _, messages in planned_messages for m in messages if m.msg_id not in skipped]
    skipped.update(suppressed_reasons(scope.workspace, unskipped))
    for planned, messages in planned_messages:
        delay = planned.step.delay_seconds
        for message in messages:
            if message.msg_id in skipped:
                continue
            if delay:
                # A retry can queue a copy until dedupe_until, due this much later: the guard must outlive it.
                message.step_delay_seconds = delay
            if delay > SQS_MAX_DELAY_SECONDS:
                # Senders put it back on the queue until its time is within one SQS delay.
                message.not_before = int(received.timestamp()) + delay
            outgoing.append(Outgoing(message, delay_seconds=delay))
    check_answer_size([message for _, messages in planned_messages for message in messages], len(steps), skipped)
    # One request, many events: the status route lists every step's notifications under it.
    every_message = [message for _, messages in planned_messages for message in messages]
    index = (
        cancellable_step_items(
            scope,
            automation.id,
            cancellation_key,
            request_id,
            [
                (planned.number, [m for m in messages if m.msg_id not in skipped])
                for planned, messages in planned_messages
            ],
            time.time(),
        )
        if cancellation_key is not None
        else []
    )

    def record(kept: KeptManifests | None) -> list[RequestManifest]:
        manifest = record_request(
            every_message, event=f"automation:{automation.id}", received=received, skipped=skipped, kept=kept
        )
        remember_steps(index, kept)
        return [manifest]

    refusal = "The automation could not be queued"
    queued = record_then_queue(
        scope, record, outgoing, request_id=request_id, refusal=refusal, skipped=skipped, every_message=every_message
    )
    accepted = AutomationAccepted(
        automation_id=automation.id,
        received_time=iso_utc(received),
        request_id=request_id,
        steps=[
            AutomationStepReceipt(
                step=planned.number,
                event=planned.step.event,
                delay_seconds=planned.step.delay_seconds,
                response=ChannelReceipts(**receipts(messages, queued.failed, skipped)),
            )
            for planned, messages in planned_messages
        ],
    )
    extra = {"request_id": request_id, "automation_id": automation.id}
    return queued.answer(accepted, metric="AutomationTriggered", log="automation triggered", **extra)
