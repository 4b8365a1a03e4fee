"""Environment settings, read on first use (and again after notify.caches.reset()).

Which variables each function must have is checked at cold start by notify.environment; here their values
are validated, and a bad one is an InvalidSetting that names the variable (never pydantic's own report).
"""

from __future__ import annotations

import os

from pydantic import BaseModel, Field, ValidationError

from notify.caches import per_container

DEFAULT_IDEMPOTENCY_EXPIRY_SECONDS = 24 * 60 * 60


class Settings(BaseModel):
    """What a function learns from its environment (the template's Globals plus its own variables)."""

    api_keys_table: str = ""
    definitions_table: str = ""
    idempotency_table: str = ""
    notification_queue_url: str = ""
    delivery_log_table: str = ""
    inbox_table: str = ""
    profiles_table: str = ""
    suppressions_table: str = ""
    # Delivery reports (docs/contract.md section 8): the sender queues them here; only the reporter reads the
    # endpoints' signing secrets, SecureStrings under this path.
    report_queue_url: str = ""
    callback_secrets_path: str = "/idempotent-notify/callbacks"
    # The local stack alone sets this (local/lambda_environment.py), never the template: receivers at
    # http://127.0.0.1 are then allowed, so reports can be tried on one machine.
    local_loopback_callbacks: bool = False
    idempotency_expiry_seconds: int = Field(default=DEFAULT_IDEMPOTENCY_EXPIRY_SECONDS, ge=1)
    auth_cache_seconds: int = Field(default=60, ge=0, le=60)
    definitions_cache_seconds: int = Field(default=60, ge=0, le=300)
    # Sender: the verified SES identity mail comes from, and the queue's redrive limit (its last attempt).
    email_from: str = ""
    # The SES configuration set whose events (delivery, bounce, complaint) reach the provider-events function.
    ses_configuration_set: str = ""
    max_receive_count: int = Field(default=5, ge=1)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=15)
    # Time budget of a sender invocation: kept back to record outcomes and report the batch, and the
    # least time worth starting a provider call with (logic/budget.py).
    sender_reserve_seconds: float = Field(default=3.0, ge=0)
    sender_min_call_seconds: float = Field(default=1.0, gt=0)
    # How long a message can wait on the notification queue (its MessageRetentionPeriod): a send guard
    # outlives every copy still on the queue (R8).
    notification_queue_retention_seconds: int = Field(default=345600, ge=60)
    # SSM Parameter Store path under which each workspace's provider secrets are SecureStrings.
    provider_secrets_path: str = "/idempotent-notify/providers"
    # Status and inbox items outlive the idempotency key, so a request can be looked up for a while.
    delivery_log_retention_days: int = Field(default=30, ge=1)
    inbox_retention_days: int = Field(default=90, ge=1)


@per_container
def get_settings() -> Settings:
    """Settings of this container, from the environment variables of the same name in upper case."""
    values = {name: os.environ[name.upper()] for name in Settings.model_fields if name.upper() in os.environ}
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems = [f"{str(error['loc'][0]).upper()}: {error['msg']}" for error in exc.errors()]
        raise InvalidSetting(f"invalid environment variable {'; '.join(problems)}") from None


class InvalidSetting(ValueError):
    """An environment variable holds a value the function cannot use (the message names it)."""
