"""Logger, Tracer and Metrics, configured from the POWERTOOLS_* variables in the template's Globals."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_lambda_powertools.shared.constants import METRICS_NAMESPACE_ENV, SERVICE_NAME_ENV

F = TypeVar("F", bound=Callable[..., Any])

logger = Logger()
metrics = Metrics()


class LazyTracer:
    """Powertools' Tracer, created on the first traced call rather than at import.

    Creating a Tracer imports the X-Ray SDK (and wrapt, which patches botocore): about 100 ms of every cold
    start in `make bench`, and the SDK is loaded even where tracing is off. Here the decorators are applied
    at import as usual, but the SDK is loaded only when a decorated function first runs with tracing on
    (a Lambda environment without POWERTOOLS_TRACE_DISABLED, not under SAM CLI); with tracing off it is
    never loaded and the decorated functions run unwrapped.
    """

    # Of what X-Ray patches by default (botocore, requests, sqlite3 here), the functions only call botocore.
    PATCH_MODULES = ("botocore",)

    def __init__(self) -> None:
        self._tracer: Any = None
        self._lock = threading.Lock()

    @staticmethod
    def enabled() -> bool:
        """Whether tracing is on here, decided as Powertools decides it (its own check, without the SDK)."""
        from aws_lambda_powertools.tracing.tracer import Tracer

        return not Tracer._is_tracer_disabled()

    def get(self) -> Any:
        """The real Tracer (None while tracing is off): created, and botocore patched, once per container."""
        if self._tracer is None and self.enabled():
            with self._lock:
                if self._tracer is None:
                    from aws_lambda_powertools import Tracer

                    self._tracer = Tracer(patch_modules=self.PATCH_MODULES)
        return self._tracer

    def _lazily(self, decorate: Callable[[Any, F], F], function: F) -> F:
        wrapped: list[Callable[..., Any]] = []

        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            if not wrapped:
                tracer = self.get()
                wrapped.append(function if tracer is None else decorate(tracer, function))
            return wrapped[0](*args, **kwargs)

        return call  # type: ignore[return-value]

    def capture_lambda_handler(self, handler: F) -> F:
        return self._lazily(lambda tracer, function: tracer.capture_lambda_handler(function), handler)

    def capture_method(self, method: F) -> F:
        return self._lazily(lambda tracer, function: tracer.capture_method(function), method)


tracer = LazyTracer()


def count(name: str, value: float = 1, **breakdown: str) -> None:
    """Count `name` (a metric of docs/operations.md's table) under the service alone, which the alarms read,
    and, given a `breakdown` such as channel="email", also per those dimensions for the dashboard."""
    if not breakdown:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        return
    # Its own EMF record: one invocation of the sender handles several channels, and the shared `metrics` flushes a
    # single set of dimensions for the whole invocation. Inside counts_per_invocation, added up and written at its end.
    pending = _pending_counts.get()
    if pending is not None:
        with _pending_lock:
            counted = pending.setdefault(tuple(breakdown.items()), {})
            counted[name] = counted.get(name, 0) + value
        return
    if is_metrics_disabled():
        return
    print(_EMF_TIMESTAMP + str(int(time.time() * 1000)) + _emf_after_timestamp(name, value, tuple(breakdown.items())))


_pending_counts: contextvars.ContextVar[dict[tuple[tuple[str, str], ...], dict[str, float]] | None] = (
    contextvars.ContextVar("notify_pending_counts", default=None)
)
_pending_lock = threading.Lock()


@contextlib.contextmanager
def counts_per_invocation() -> Iterator[None]:
    """Within the block, `count` with a breakdown adds up, and one EMF record per breakdown (every metric counted
    under it, with its total) is written when the block ends, however it ends: the sender's batch of 10 writes one
    record per channel instead of one per notification (docs/bench.md)."""
    token = _pending_counts.set({})
    try:
        yield
    finally:
        pending = _pending_counts.get() or {}
        _pending_counts.reset(token)
        if not is_metrics_disabled():
            for breakdown, counted in pending.items():
                record = AmazonCloudWatchEMFProvider()
                for name, value in counted.items():
                    record.add_metric(name=name, unit=MetricUnit.Count, value=value)
                record.add_dimensions(service=str(record.service), **dict(breakdown))
                record.flush_metrics()


# Every EMF line starts so (Powertools' serialization, compact JSON, "_aws" and its "Timestamp" first).
_EMF_TIMESTAMP = '{"_aws":{"Timestamp":'
_EMF_RECORDS_KEPT = 256
_emf_records: dict[tuple[Any, ...], str] = {}


def _emf_after_timestamp(name: str, value: float, breakdown: tuple[tuple[str, str], ...]) -> str:
    """What follows the timestamp in the EMF line of one count: Powertools' own serialization, made once per
    namespace, service, metric, value and dimensions (a replay's metric used to build a provider each time)."""
    key = (os.getenv(METRICS_NAMESPACE_ENV), os.getenv(SERVICE_NAME_ENV), name, value, breakdown)
    after = _emf_records.get(key)
    if after is None:
        record = AmazonCloudWatchEMFProvider()
        record.add_metric(name=name, unit=MetricUnit.Count, value=value)
        record.add_dimensions(service=str(record.service), **dict(breakdown))
        line = json.dumps(record.serialize_metric_set(), separators=(",", ":"))
        if not line.startswith(_EMF_TIMESTAMP):
            raise RuntimeError(f"unexpected EMF serialization: {line[:60]}")
        after = line[len(_EMF_TIMESTAMP) :].lstrip("0123456789")
        if len(_emf_records) >= _EMF_RECORDS_KEPT:
            _emf_records.clear()
        _emf_records[key] = after
    return after


def mask_destination(destination: str) -> str:
    """A recipient address safe for logs and status pages: enough to recognise, not enough to use."""
    if "@" in destination:
        local, _, domain = destination.partition("@")
        return f"{local[:1]}***@{domain}"
    if len(destination) <= 4:
        return "***"
    return f"{destination[:2]}***{destination[-2:]}"
