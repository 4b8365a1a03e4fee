"""Logger, Tracer and Metrics, configured from the POWERTOOLS_* variables in the template's Globals."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

logger = Logger()
# Of what X-Ray patches by default (botocore, requests, sqlite3 here), the functions only call botocore;
# the others were imported into every cold start for nothing (about 50 ms, see `make bench`).
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()


def count(name: str, value: float = 1, **breakdown: str) -> None:
    """Count `name` (a metric of docs/operations.md's table) under the service alone, which the alarms read,
    and, given a `breakdown` such as channel="email", also per those dimensions for the dashboard."""
    if not breakdown:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        return
    # Its own EMF record, written now: one invocation of the sender handles several channels, and the
    # shared `metrics` flushes a single set of dimensions for the whole invocation.
    record = AmazonCloudWatchEMFProvider()
    record.add_metric(name=name, unit=MetricUnit.Count, value=value)
    record.add_dimensions(service=str(record.service), **breakdown)
    record.flush_metrics()


def mask_destination(destination: str) -> str:
    """A recipient address safe for logs and status pages: enough to recognise, not enough to use."""
    if "@" in destination:
        local, _, domain = destination.partition("@")
        return f"{local[:1]}***@{domain}"
    if len(destination) <= 4:
        return "***"
    return f"{destination[:2]}***{destination[-2:]}"
