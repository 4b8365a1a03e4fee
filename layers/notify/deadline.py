"""The invocation's deadline: the one piece of request state read from afar (a context variable), because every
AWS and provider call of the invocation must end before it, wherever the call is made.

The API functions set it to the function's remaining time less a reserve for the answer
(notify.api.within_invocation_time), and narrow it for the steps that must leave time to what follows
(`time_budget_leaving`: execution leaves room for the completion, enqueueing for recording what the queue
refused). The sender sets it to the invocation's end (notify.logic.budget.start_invocation); its provider calls
keep a reserve before it for recording outcomes (`seconds_left(reserve)`). dal/clients.py bounds every AWS call
by it; logic/budget.py every provider call. Threads started with notify.dal.clients.map_in_parallel keep it.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

# A reserve never takes more than this share of what is left, so a short budget is shared rather than spent on it.
RESERVE_FRACTION = 0.3

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("invocation_deadline", default=None)


@contextmanager
def time_budget(seconds: float | None) -> Iterator[None]:
    """Calls made inside end within `seconds` from now (or the enclosing deadline, if sooner); None: no bound of
    its own (the enclosing one, if any, still holds)."""
    if seconds is None:
        yield
        return
    deadline = time.monotonic() + seconds
    enclosing = _deadline.get()
    token = _deadline.set(deadline if enclosing is None else min(enclosing, deadline))
    try:
        yield
    finally:
        _deadline.reset(token)


@contextmanager
def time_budget_leaving(reserve_seconds: float) -> Iterator[None]:
    """Calls made inside end early enough to leave `reserve_seconds` of the current budget for what follows
    (at most RESERVE_FRACTION of it)."""
    left = seconds_left()
    with time_budget(None if left is None else left - min(reserve_seconds, left * RESERVE_FRACTION)):
        yield


def seconds_left(reserve: float = 0.0) -> float | None:
    """What remains before the deadline, less `reserve`; None when there is no deadline."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - reserve - time.monotonic()


def start(seconds: float | None) -> contextvars.Token[float | None]:
    """Set the deadline `seconds` from now for what follows (a Lambda invocation); pass the token to `end`."""
    return _deadline.set(None if seconds is None else time.monotonic() + seconds)


def end(token: contextvars.Token[float | None]) -> None:
    _deadline.reset(token)
