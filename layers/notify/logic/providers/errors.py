"""How a delivery can fail: permanently (recorded failed, never retried) or transiently (retried by SQS)."""

from __future__ import annotations


class PermanentDeliveryError(Exception):
    """Retrying cannot help (bad destination, no provider, refused webhook): record failed, do not retry."""

    def __init__(self, reason: str, provider: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.provider = provider


class TransientDeliveryError(Exception):
    """The provider may accept a later attempt (throttling, 5xx, timeout): retry through the visibility timeout."""

    def __init__(self, reason: str, provider: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.provider = provider
