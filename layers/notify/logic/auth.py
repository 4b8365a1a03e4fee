"""Bearer API key -> workspace, with a per-container cache of at most 60 s (docs/contract.md section 2)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from botocore.exceptions import BotoCoreError, ClientError

from notify.caches import on_reset
from notify.dal.api_keys import get_api_key, hash_api_key
from notify.errors import InvalidApiDetails, ServiceUnavailable
from notify.observability import logger
from notify.settings import get_settings

_CACHE_MAX_ENTRIES = 1024
# key hash -> (monotonic time of lookup, workspace or None for unknown/revoked)
_cache: OrderedDict[str, tuple[float, str | None]] = OrderedDict()
_lock = threading.Lock()


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def workspace_of_api_key(api_key: str) -> str | None:
    """The workspace of an active key, or None. Unknown and revoked keys are cached too, for the same time."""
    key_hash = hash_api_key(api_key)
    now = time.monotonic()
    hit = _fresh(key_hash, now)
    if hit is not None:
        return hit[1]
    try:
        record = get_api_key(key_hash)
    except (BotoCoreError, ClientError) as exc:
        # Not a 401: the key may be fine, and the client should retry rather than replace it.
        logger.error("api key lookup failed", extra={"error": str(exc)})
        raise ServiceUnavailable() from exc
    workspace = record.workspace if record is not None and record.revoked_at is None else None
    with _lock:
        _cache[key_hash] = (now, workspace)
        _cache.move_to_end(key_hash)
        while len(_cache) > _CACHE_MAX_ENTRIES:
            _cache.popitem(last=False)
    return workspace


def authenticate(authorization: str | None, workspace: str) -> None:
    """Raise InvalidApiDetails unless the header carries an active key of `workspace`."""
    api_key = bearer_token(authorization)
    if api_key is None or workspace_of_api_key(api_key) != workspace:
        raise InvalidApiDetails()


def authenticated_from_cache(authorization: str | None, workspace: str) -> bool:
    """Whether the header carries an active key of `workspace` that this container looked up less than the cache's
    time ago. False when it does not know: `authenticate` then decides, and may read the key."""
    api_key = bearer_token(authorization)
    if api_key is None:
        return False
    hit = _fresh(hash_api_key(api_key), time.monotonic())
    return hit is not None and hit[1] == workspace


def _fresh(key_hash: str, now: float) -> tuple[float, str | None] | None:
    """The cached lookup of a key hash, if made less than the cache's time before `now`."""
    with _lock:
        hit = _cache.get(key_hash)
    return hit if hit is not None and now - hit[0] < get_settings().auth_cache_seconds else None


@on_reset
def forget_cached_keys() -> None:
    with _lock:
        _cache.clear()
