"""Logger, Tracer and Metrics, configured from the POWERTOOLS_* variables in the template's Globals."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
# Of what X-Ray patches by default (botocore, requests, sqlite3 here), the functions only call botocore;
# the others were imported into every cold start for nothing (about 50 ms, see `make bench`).
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()


def mask_destination(destination: str) -> str:
    """A recipient address safe for logs and status pages: enough to recognise, not enough to use."""
    if "@" in destination:
        local, _, domain = destination.partition("@")
        return f"{local[:1]}***@{domain}"
    if len(destination) <= 4:
        return "***"
    return f"{destination[:2]}***{destination[-2:]}"
