"""Fault injection for tests of the local stack: make chosen AWS calls of the functions fail.

The API port accepts `POST /_local/faults` with a fault and `DELETE /_local/faults` to disarm all.
Armed faults travel with every invocation to the function workers, where a botocore `before-send`
hook raises for matching calls, as if the service were unreachable (R9 is tested this way).
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

# What a fault makes the call raise; both are what botocore raises when an endpoint cannot be reached.
ERRORS = {
    "unreachable": EndpointConnectionError,
    "timeout": ConnectTimeoutError,
}


class InvalidFault(ValueError):
    """A fault description the local stack cannot apply."""


@dataclass(frozen=True)
class Fault:
    """Calls to `service` (botocore service id, e.g. dynamodb, sqs), optionally narrowed down."""

    service: str
    error: str = "unreachable"
    operation: str | None = None  # e.g. PutItem, SendMessageBatch
    table: str | None = None  # DynamoDB TableName
    queue: str | None = None  # SQS queue name (the last part of QueueUrl)
    function: str | None = None  # logical id of the function whose calls fail

    @classmethod
    def from_request(cls, payload: Any) -> Fault:
        if not isinstance(payload, dict) or not isinstance(payload.get("service"), str):
            raise InvalidFault("a fault is a JSON object with at least a 'service'")
        unknown = set(payload) - set(cls.__dataclass_fields__)
        if unknown:
            raise InvalidFault(f"unknown fault fields: {', '.join(sorted(unknown))}")
        if payload.get("error", "unreachable") not in ERRORS:
            raise InvalidFault(f"'error' must be one of: {', '.join(ERRORS)}")
        if any(value is not None and not isinstance(value, str) for value in payload.values()):
            raise InvalidFault("fault fields are strings")
        return cls(**payload)

    def to_dict(self) -> dict[str, str]:
        return {name: value for name, value in asdict(self).items() if value is not None}

    def matches(self, function: str, service: str, operation: str, params: dict[str, Any]) -> bool:
        if self.function not in (None, function) or self.service.lower() != service.lower():
            return False
        if self.operation is not None and self.operation != operation:
            return False
        if self.table is not None and params.get("TableName") != self.table:
            return False
        return self.queue is None or str(params.get("QueueUrl", "")).rsplit("/", 1)[-1] == self.queue


class ArmedFaultList:
    """The faults armed through /_local/faults; every invocation carries a snapshot."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def disarm_all(self) -> None:
        with self._lock:
            self._faults.clear()

    def snapshot(self) -> list[dict[str, str]]:
        with self._lock:
            return [fault.to_dict() for fault in self._faults]


class ArmedFaults:
    """The faults of the current invocation in a worker, and the botocore hook that applies them."""

    def __init__(self, function: str) -> None:
        self.function = function
        self.faults: list[Fault] = []

    def arm(self, faults: list[dict[str, str]]) -> None:
        self.faults = [Fault(**fault) for fault in faults]

    def before_send(self, request: Any, event_name: str, **kwargs: Any) -> None:
        """botocore `before-send` handler: event_name is before-send.<service>.<Operation>."""
        if not self.faults:
            return
        _, service, operation = event_name.split(".", 2)
        params = _request_params(request)
        for fault in self.faults:
            if fault.matches(self.function, service, operation, params):
                raise ERRORS[fault.error](endpoint_url=request.url)


def _request_params(request: Any) -> dict[str, Any]:
    """TableName/QueueUrl of a JSON-protocol request (DynamoDB and SQS both speak JSON)."""
    try:
        text = request.body.decode() if isinstance(request.body, bytes) else request.body or "{}"
        params: Any = json.loads(text)
    except (ValueError, AttributeError):
        return {}
    return params if isinstance(params, dict) else {}
