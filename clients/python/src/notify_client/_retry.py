"""When to try a call again, and how long to wait: one place for the retry rules."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

import httpx

from notify_client._errors import RETRYABLE_STATUSES


@dataclass(frozen=True)
class RetryPolicy:
    """Full-jitter exponential backoff inside a total deadline (seconds) that covers every attempt and wait."""

    deadline: float = 30.0
    # The longest one attempt may take; it shrinks to what is left of the deadline.
    attempt_timeout: float = 10.0
    base_delay: float = 0.25
    max_delay: float = 8.0

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): uniform in [0, cap]."""
        cap = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        # Jitter spreads clients' retries apart; it protects nothing secret.
        return rng.uniform(0, cap)  # nosec B311


# Failures where the request never reached the server: retrying is safe for every call.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures where the server may have executed it: safe only when a retry cannot act twice (a keyed POST, a read).
MAYBE_SENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
# Answers that say nothing changed, whatever the call: throttled, or a store unreachable before execution (R9).
NOTHING_DONE_STATUSES = frozenset({429, 503})


def should_retry_error(error: httpx.HTTPError, replay_safe: bool) -> bool:
    if isinstance(error, NOT_SENT):
        return True
    return replay_safe and isinstance(error, MAYBE_SENT)


def should_retry_status(status_code: int, replay_safe: bool) -> bool:
    if status_code in NOTHING_DONE_STATUSES:
        return True
    return replay_safe and (status_code in RETRYABLE_STATUSES or status_code >= 500)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as delta-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
