"""The sender invocation's time budget: no provider call may outlive the Lambda invocation.

A call the runtime cuts off leaves its notification's outcome unknown, and every message after it in
the batch unsent. So each provider call gets at most the time left before the deadline, less a reserve
for recording outcomes; a message is not started when less than one short call fits, and goes back to
the queue untouched (a batch item failure) for the next invocation.
"""

from __future__ import annotations

from contextvars import Token
from typing import Protocol

from notify import deadline
from notify.logic.providers.errors import TransientDeliveryError
from notify.settings import get_settings


class HasRemainingTime(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


def start_invocation(context: HasRemainingTime | None) -> Token[float | None]:
    """Set the invocation's deadline (notify.deadline) from `context`'s remaining time; pass the token to
    end_invocation."""
    return deadline.start(None if context is None else context.get_remaining_time_in_millis() / 1000)


def end_invocation(token: Token[float | None]) -> None:
    deadline.end(token)


def seconds_left() -> float | None:
    """Seconds left for provider calls in this invocation: up to its deadline less the sender's reserve for
    recording outcomes (None when unbounded)."""
    return deadline.seconds_left(reserve=get_settings().sender_reserve_seconds)


def can_start_message() -> bool:
    """Whether one short provider call still fits before the reserve."""
    left = seconds_left()
    return left is None or left >= get_settings().sender_min_call_seconds


def call_timeout(longest: float, provider: str, *, whole: bool = False) -> float:
    """The timeout for one provider call that takes at most `longest` seconds: `longest`, or what is left
    when less. `whole`: the call cannot be shortened (a client with fixed timeouts), so it needs all of it.
    Raises TransientDeliveryError, before anything is sent, when the call does not fit."""
    left = seconds_left()
    if left is None:
        return longest
    needed = longest if whole else min(longest, get_settings().sender_min_call_seconds)
    if left < needed:
        raise TransientDeliveryError(
            f"{provider} not called: {left:.1f} s left in the invocation, the call needs {needed:.1f} s",
            provider=provider,
        )
    return min(longest, left)
