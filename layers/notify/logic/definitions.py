"""Event definitions as the request path sees them: looked up once a minute per container at most."""

from __future__ import annotations

import threading
import time

from botocore.exceptions import BotoCoreError, ClientError

from notify.dal.definitions import get_event_definition
from notify.errors import ServiceUnavailable, UnknownEvent
from notify.models.definitions import EventDefinition
from notify.observability import logger
from notify.settings import get_settings

_cache: dict[tuple[str, str], tuple[float, EventDefinition | None]] = {}
_lock = threading.Lock()
_CACHE_MAX_ENTRIES = 1024


def require_event_definition(workspace: str, name: str) -> EventDefinition:
    """The workspace's definition of `name`, or UnknownEvent (a 400 that stores nothing, R5)."""
    now = time.monotonic()
    with _lock:
        hit = _cache.get((workspace, name))
    if hit is not None and now - hit[0] < get_settings().definitions_cache_seconds:
        definition = hit[1]
    else:
        try:
            definition = get_event_definition(workspace, name)
        except (BotoCoreError, ClientError) as exc:
            logger.error("definition lookup failed", extra={"error": str(exc)})
            raise ServiceUnavailable() from exc
        with _lock:
            if len(_cache) >= _CACHE_MAX_ENTRIES:
                _cache.clear()
            _cache[(workspace, name)] = (now, definition)
    if definition is None:
        raise UnknownEvent(name)
    return definition


def forget_cached_definitions() -> None:
    with _lock:
        _cache.clear()
