"""Environment settings, read lazily so tests can change the environment without reloads."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field

DEFAULT_IDEMPOTENCY_EXPIRY_SECONDS = 24 * 60 * 60


class Settings(BaseModel):
    """What a function learns from its environment (the template's Globals plus its own variables)."""

    api_keys_table: str = ""
    definitions_table: str = ""
    idempotency_table: str = ""
    notification_queue_url: str = ""
    idempotency_expiry_seconds: int = Field(default=DEFAULT_IDEMPOTENCY_EXPIRY_SECONDS, ge=1)
    auth_cache_seconds: int = Field(default=60, ge=0, le=60)
    definitions_cache_seconds: int = Field(default=60, ge=0, le=300)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this container, from the environment variables of the same name in upper case."""
    values = {name: os.environ[name.upper()] for name in Settings.model_fields if name.upper() in os.environ}
    return Settings.model_validate(values)
