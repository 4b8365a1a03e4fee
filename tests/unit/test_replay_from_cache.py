"""A replay the container holds is answered before the resolver (notify.api.replay_without_resolver, R4): the same
answer, byte for byte, as the resolver's; and everything it is not sure of still goes through the resolver, its
authentication, its 401s and its M1 checks."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from notify.dal.api_keys import hash_api_key, revoke_api_key
from tests.support.clients import ApiClient, AutomationApiClient, BulkApiClient, EventApiClient, welcome
from tests.support.stack import FakeLambdaContext, Stack

REPLAYED = "idempotency-replayed"
TRIGGER = {"email": "a@example.com", "name": "A", "phone": "+14155550100", "order": {"id": "1", "amount": "2"}}
BULK = {"event": "Welcome_Email", "batch": [{"to": {"email": "b@example.com"}, "data": {"name": "B"}}]}


def _cancel(stack: Stack) -> ApiClient:
    api = AutomationApiClient(stack.workspaces[0])
    api.route = "automation/onboarding/cancel"
    return api


APIS: dict[str, tuple[Callable[[Stack], ApiClient], Any]] = {
    "event": (lambda stack: EventApiClient(stack.workspaces[0]), welcome()),
    "bulk": (lambda stack: BulkApiClient(stack.workspaces[0]), BULK),
    "automation": (lambda stack: AutomationApiClient(stack.workspaces[0]), TRIGGER),
    "cancel": (_cancel, {"cancellation_key": "order-1"}),
}


class ResolverCalled(AssertionError):
    pass


def _without_resolver(api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any) -> None:
        raise ResolverCalled("the resolver served a replay the container holds")

    monkeypatch.setattr(api.module.function.app, "resolve", refuse)


def _emf_counts(output: str, name: str) -> int:
    return sum(
        1
        for line in output.splitlines()
        if line.startswith('{"_aws"') and name in json.loads(line) and json.loads(line).get("api")
    )


@pytest.mark.parametrize("name", APIS)
def test_R4_a_replay_the_container_holds_is_the_resolvers_answer_byte_for_byte_without_the_resolver(
    stack: Stack, name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make, body = APIS[name]
    api = make(stack)
    first = api.post(body, key=f"fast-{name}")
    assert first.status in (200, 202), first.body
    event = api.event(body, key=f"fast-{name}")
    context = FakeLambdaContext(api.timeout_ms)
    by_resolver = api.module.function.app.resolve(copy.deepcopy(event), context)
    capsys.readouterr()

    with monkeypatch.context() as patched:
        _without_resolver(api, patched)
        answered = api.module.lambda_handler(copy.deepcopy(event), context)

    assert answered == by_resolver
    assert answered["headers"]["Idempotency-Replayed"] == "true"
    assert (answered["statusCode"], answered["body"]) == (first.status, first.body)
    assert _emf_counts(capsys.readouterr().out, "IdempotencyReplayed") == 1  # counted once, with its `api`


def test_R4_the_trailing_slash_twin_and_a_base64_body_replay_from_the_container_too(
    client: EventApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = client.post(welcome(), key="twin")
    _without_resolver(client, monkeypatch)

    twin = client.post(welcome(), key="twin", route="event/")
    encoded = client.post(key="twin", binary_body=json.dumps(welcome()).encode())

    assert (twin.status, twin.body, twin.headers[REPLAYED]) == (202, first.body, "true")
    assert (encoded.status, encoded.body, encoded.headers[REPLAYED]) == (202, first.body, "true")


def test_a_cached_answer_is_never_replayed_to_another_workspaces_key(stack: Stack, client: EventApiClient) -> None:
    client.post(welcome(), key="mine")
    assert client.post(welcome(), key="mine").headers[REPLAYED] == "true"  # held by the container

    answer = client.post(welcome(), key="mine", api_key=stack.workspaces[1].api_key)
    missing = client.post(welcome(), key="mine", api_key=None)

    assert (answer.status, answer.json()["_message"]) == (401, "Invalid API details")
    assert (missing.status, REPLAYED in missing.headers) == (401, False)


def test_a_replay_with_a_revoked_key_is_401_once_the_key_cache_minute_passed(
    stack: Stack, client: EventApiClient
) -> None:
    with freeze_time(datetime.now(UTC)) as clock:
        first = client.post(welcome(), key="revoked")
        assert revoke_api_key(hash_api_key(stack.workspaces[0].api_key))
        clock.tick(timedelta(seconds=30))
        assert client.post(welcome(), key="revoked").body == first.body  # the key is still cached, as for any request
        clock.tick(timedelta(seconds=31))
        assert client.post(welcome(), key="revoked").status == 401


def test_R7_a_test_request_with_a_key_the_container_holds_executes(client: EventApiClient) -> None:
    live = client.post(welcome(), key="both")
    test = client.post(welcome(), key="both", version="test")

    assert test.status == 202 and REPLAYED not in test.headers
    assert test.json()["request_id"] != live.json()["request_id"]


def test_M1_another_body_under_a_held_key_goes_to_the_resolver_and_replays_in_the_default_mode(
    client: EventApiClient,
) -> None:
    first = client.post(welcome(), key="changed")
    again = client.post(welcome(name="Somebody else"), key="changed")

    assert (again.status, again.body, again.headers[REPLAYED]) == (202, first.body, "true")


def test_R6_an_expired_answer_in_the_containers_cache_is_not_replayed(client: EventApiClient) -> None:
    with freeze_time(datetime.now(UTC)) as clock:
        first = client.post(welcome(), key="expires")
        clock.tick(timedelta(hours=24, seconds=1))
        again = client.post(welcome(), key="expires")

    assert again.status == 202 and REPLAYED not in again.headers
    assert again.json()["request_id"] != first.json()["request_id"]


def test_a_failure_of_the_replay_shortcut_is_answered_by_the_resolver(
    client: EventApiClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import notify.logic.idempotency as idempotency

    first = client.post(welcome(), key="shortcut-broken")

    def broken(*_: Any) -> None:
        raise RuntimeError("a bug in the shortcut")

    monkeypatch.setattr(idempotency, "replay_from_container", broken)
    again = client.post(welcome(), key="shortcut-broken")

    assert (again.status, again.body, again.headers[REPLAYED]) == (202, first.body, "true")
    assert "replay from the container's cache failed" in caplog.text
