"""Domain errors. Each maps to one HTTP answer in `notify.api`; nothing else decides status codes."""

from __future__ import annotations

from typing import Any


class NotifyError(Exception):
    """Base of every error the API answers on purpose. A subclass states its answer in its header:
    `class Gone(NotifyError, status=410, message="Gone")` (the message is the default one)."""

    status_code = 500
    message = "Internal server error"
    retry_after_seconds: int | None = None

    def __init_subclass__(
        cls, *, status: int | None = None, message: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init_subclass__()
        if status is not None:
            cls.status_code = status
        if message is not None:
            cls.message = message
        if retry_after is not None:
            cls.retry_after_seconds = retry_after

    def __init__(self, message: str | None = None, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.errors = errors


class InvalidApiDetails(NotifyError, status=401, message="Invalid API details"):
    """Missing, unknown or revoked API key, or a key of another workspace (docs/contract.md section 2)."""


class RequestValidationError(NotifyError, status=400, message="Invalid request"):
    """Malformed JSON, a body that fails validation, or a bad idempotency header (R1, R5, R6)."""


class PayloadTooLarge(NotifyError, status=413):
    """A body past the whole-body limit, or a request whose answer would pass the answer limit
    (notify.models.limits): refused before anything is stored or queued (R5)."""

    def __init__(self, message: str, *, field: str, limit: int) -> None:
        super().__init__(message, errors=[{"field": field, "message": f"must be at most {limit} bytes"}])


class UnknownEvent(NotifyError, status=400):
    """The event name has no definition in the workspace (docs/contract.md section 2)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"The notification event name '{name}' is invalid or does not exist")


class UnknownAutomation(NotifyError, status=400):
    """The automation id has no definition in the workspace."""

    def __init__(self, automation_id: str) -> None:
        super().__init__(f"The automation '{automation_id}' is invalid or does not exist")


class NotQueued(NotifyError, status=500):
    """Execution started and the queue took none of the request's notifications: answered, and stored (R3), as a
    500 naming the request, whose status route shows each one `failed` ("not queued")."""

    def __init__(self, message: str, *, request_id: str) -> None:
        super().__init__(message)
        self.request_id = request_id


class ExecutionFailed(NotifyError, status=500):
    """An unexpected failure after execution started: answered, and stored (R3), as a 500."""


class RouteNotFound(NotifyError, status=404, message="Not found"):
    """No route serves this path (notify.routes)."""


class MethodNotAllowed(NotifyError, status=405):
    """A known route asked with a method it does not serve (notify.routes); `Allow` lists those it does."""

    def __init__(self, method: str, allowed: list[str]) -> None:
        super().__init__(f"Method {method} is not allowed on this route; allowed: {', '.join(allowed)}")
        self.allowed = allowed


class IdempotencyKeyInUse(
    NotifyError,
    status=409,
    message="A request with this Idempotency-Key is still being processed; retry later",
    retry_after=1,
):
    """A concurrent request holds the key (R5): nothing stored, retry after a moment."""


class IdempotencyKeyNotFound(NotifyError, status=404, message="No request is stored under this Idempotency-Key"):
    """The lookup route's key holds nothing now in this workspace, API and version (K2): never another's data."""


class IdempotencyKeyReused(NotifyError, status=422, message="Idempotency-Key reused with a different request"):
    """Strict mode (M1): the key's record holds a request with another body; nothing executed, nothing changed."""


class ServiceUnavailable(
    NotifyError, status=503, message="Service temporarily unavailable; retry later", retry_after=2
):
    """A store needed before execution is unreachable (R9): nothing sent, nothing stored."""


class QueueingRetried(ServiceUnavailable):
    """A re-execution of a key (its earlier execution answered but could not store its answer, and may have queued
    every notification) whose own queueing failed for every one: answered 503 with nothing stored, and its claim kept,
    so the retry re-executes under the same ids (R8) instead of a stored 500 the first answer never was (R4)."""


class RequestNotFound(NotifyError, status=404):
    """No request with this id in this workspace and version (another workspace's is just as unknown)."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"The request '{request_id}' does not exist")


class ProfileRefused(NotifyError, status=400):
    """A Profiles API request that cannot be done (docs/contract.md section 6): Fyno's own message, a 400."""


class UnknownProfile(NotifyError, status=400):
    """A request by `distinct_id` whose profile does not exist and whose `to` leaves nothing to send."""

    def __init__(self, distinct_id: str, *, seq: int | None = None) -> None:
        where = f"batch item seq {seq}: " if seq is not None else ""
        error: dict[str, object] = {"field": "distinct_id", "message": f"no profile '{distinct_id}'"}
        if seq is not None:
            error = {"seq": seq, **error}
        super().__init__(
            f"{where}incorrect/non existing distinct_id provided: '{distinct_id}', and 'to' names no destination",
            errors=[error],
        )
