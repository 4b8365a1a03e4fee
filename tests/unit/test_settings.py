"""Settings fail fast: a function missing a variable stops at cold start with one log line naming it, a bad
value is an error naming its variable, and one reset() forgets every per-container cache."""

from __future__ import annotations

import pytest

from local.container import import_function
from notify import caches
from notify.dal.clients import client
from notify.environment import REQUIRED
from notify.settings import InvalidSetting, get_settings
from tests.support.stack import Stack


@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_function_missing_a_variable_stops_at_cold_start_with_one_line_naming_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("IDEMPOTENCY_TABLE")
    else:
        monkeypatch.setenv("IDEMPOTENCY_TABLE", value)
    caplog.clear()

    with pytest.raises(SystemExit) as stopped:
        import_function("event_api", instance="-missing-variable")

    assert stopped.value.code == 1
    [logged] = caplog.records  # one line, and it names the variable
    assert logged.levelname == "CRITICAL"
    assert "IDEMPOTENCY_TABLE" in logged.getMessage()
    assert logged.__dict__["missing_variables"] == ["IDEMPOTENCY_TABLE"]


def test_every_function_starts_with_the_variables_the_stack_gives_it(stack: Stack) -> None:
    for name in ("event_api", "bulk_api", "automation_api"):
        assert import_function(name, instance="-complete").lambda_handler


def test_the_sender_requires_its_own_tables(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # The API functions' environment lacks the inbox table the sender writes.
    assert "INBOX_TABLE" in REQUIRED["sender"]
    monkeypatch.delenv("INBOX_TABLE", raising=False)
    with pytest.raises(SystemExit):
        import_function("sender", instance="-no-inbox")


def test_a_bad_value_is_an_error_that_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDEMPOTENCY_EXPIRY_SECONDS", "a day")
    caches.reset()
    with pytest.raises(InvalidSetting, match="IDEMPOTENCY_EXPIRY_SECONDS"):
        get_settings()
    monkeypatch.delenv("IDEMPOTENCY_EXPIRY_SECONDS")
    caches.reset()
    assert get_settings().idempotency_expiry_seconds == 24 * 60 * 60


def test_one_reset_forgets_settings_clients_and_caches_registered_later(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_CACHE_SECONDS", "30")
    caches.reset()
    settings, dynamodb = get_settings(), client("dynamodb")
    calls: list[int] = []

    @caches.per_container
    def expensive() -> int:
        calls.append(1)
        return len(calls)

    assert expensive() == expensive() == 1
    monkeypatch.setenv("AUTH_CACHE_SECONDS", "10")

    caches.reset()

    assert get_settings() is not settings
    assert get_settings().auth_cache_seconds == 10
    assert client("dynamodb") is not dynamodb
    assert expensive() == 2
