"""Definitions as the request path sees them (and a workspace's idempotency mode): looked up at most once a minute
per container."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from notify.caches import on_reset
from notify.dal.definitions import get_automation, get_event_definition, get_idempotency_settings
from notify.errors import ServiceUnavailable, UnknownAutomation, UnknownEvent
from notify.models.definitions import AutomationDefinition, EventDefinition
from notify.observability import logger
from notify.settings import get_settings

_cache: dict[tuple[str, str, str], tuple[float, Any]] = {}
_lock = threading.Lock()
_CACHE_MAX_ENTRIES = 1024


def _cached(kind: str, workspace: str, name: str, load: Callable[[str, str], Any]) -> Any:
    now = time.monotonic()
    with _lock:
        hit = _cache.get((kind, workspace, name))
    if hit is not None and now - hit[0] < get_settings().definitions_cache_seconds:
        return hit[1]
    try:
        value = load(workspace, name)
    except (BotoCoreError, ClientError) as exc:
        logger.error("definition lookup failed", extra={"kind": kind, "error": str(exc)})
        raise ServiceUnavailable() from exc
    with _lock:
        if len(_cache) >= _CACHE_MAX_ENTRIES:
            _cache.clear()
        _cache[(kind, workspace, name)] = (now, value)
    return value


def require_event_definition(workspace: str, name: str) -> EventDefinition:
    """The workspace's definition of `name`, or UnknownEvent (a 400 that stores nothing, R5)."""
    definition: EventDefinition | None = _cached("event", workspace, name, get_event_definition)
    if definition is None:
        raise UnknownEvent(name)
    return definition


def event_definition_to_send(workspace: str, name: str) -> EventDefinition | None:
    """The workspace's definition of `name` as the sender renders it (None when it has none): cached as the API caches
    it, so a definition changed after a request was accepted is sent within a minute. Kept apart from the API's
    entries, as the functions' containers are apart (the local stack runs both in one process). ServiceUnavailable
    when it cannot be read."""
    definition: EventDefinition | None = _cached("event-to-send", workspace, name, get_event_definition)
    return definition


def require_automation(workspace: str, automation_id: str) -> AutomationDefinition:
    """The workspace's automation `automation_id`, or UnknownAutomation (a 400 that stores nothing, R5)."""
    automation: AutomationDefinition | None = _cached("automation", workspace, automation_id, get_automation)
    if automation is None:
        raise UnknownAutomation(automation_id)
    return automation


def is_strict(workspace: str) -> bool:
    """Whether the workspace answers a key reused with a different body with a 422 (M1); read only when a key's
    stored fingerprint differs from the request's, and cached like definitions (a change applies within a minute)."""
    settings = _cached("idempotency", workspace, "", get_idempotency_settings)
    return settings is not None and settings.mode == "strict"


@on_reset
def forget_cached_definitions() -> None:
    with _lock:
        _cache.clear()
