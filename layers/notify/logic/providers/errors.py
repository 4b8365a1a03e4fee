"""What a delivery ends in: a Delivery, or a failure classified by what it says about the provider having
the message (R8).

- PermanentDeliveryError: retrying cannot help (bad destination, no provider, refused webhook); recorded failed.
- TransientDeliveryError: the provider certainly did not take the message (connection refused, DNS, an
  explicit throttling answer, no time left to call it); retried through the visibility timeout.
- UnknownOutcomeError: the request may have reached the provider (timeout after sending, lost answer, 5xx);
  recorded `unknown` and never sent again automatically, as a second send could deliver it twice.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Delivery:
    """What a provider accepted: its name and, when it gives one, its message id."""

    provider: str
    provider_message_id: str | None = None


class DeliveryError(Exception):
    def __init__(self, reason: str, provider: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.provider = provider


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help (bad destination, no provider, refused webhook): record failed, do not retry."""


class TransientDeliveryError(DeliveryError):
    """The provider did not get the message (refused, throttled, unresolvable): retry through the visibility timeout."""


class UnknownOutcomeError(DeliveryError):
    """The provider may have accepted the message: record `unknown`, never retry automatically (R8)."""
