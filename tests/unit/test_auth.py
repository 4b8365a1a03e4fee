"""Authentication (docs/contract.md section 2): one middleware, keys stored as hashes, a cache of at most 60 s."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from notify.dal.api_keys import hash_api_key, revoke_api_key
from tests.support.clients import EventApiClient, welcome
from tests.support.stack import Stack

INVALID = {"_message": "Invalid API details", "status": "error"}


def assert_invalid_api_details(client: EventApiClient, stack: Stack, **post: object) -> None:
    response = client.post(welcome(), key="auth-check", **post)  # type: ignore[arg-type]
    assert response.status == 401
    assert response.json() == INVALID
    assert response.headers["content-type"] == "application/json"
    assert stack.queued_messages() == []
    assert stack.idempotency_items() == []


def test_missing_authorization_is_401(client: EventApiClient, stack: Stack) -> None:
    assert_invalid_api_details(client, stack, api_key=None)


@pytest.mark.parametrize(
    "authorization",
    ["Basic bG9jYWw6a2V5", "Bearer", "Bearer    ", "local-key-0001-aaaaaaaaaaaaaaaaaaaa", "Token abc"],
)
def test_malformed_authorization_is_401(client: EventApiClient, stack: Stack, authorization: str) -> None:
    assert_invalid_api_details(client, stack, api_key=None, headers={"Authorization": authorization})


def test_bearer_scheme_is_case_insensitive(client: EventApiClient, stack: Stack) -> None:
    key = stack.workspaces[0].api_key
    response = client.post(welcome(), api_key=None, headers={"Authorization": f"bearer {key}"})
    assert response.status == 202


def test_unknown_key_is_401(client: EventApiClient, stack: Stack) -> None:
    assert_invalid_api_details(client, stack, api_key="no-such-key")


def test_key_of_another_workspace_is_401(client: EventApiClient, stack: Stack) -> None:
    assert_invalid_api_details(client, stack, api_key=stack.workspaces[1].api_key)


def test_malformed_workspace_id_is_401(client: EventApiClient, stack: Stack) -> None:
    assert_invalid_api_details(client, stack, workspace="bad-workspace!")


def test_revoked_key_is_401(client: EventApiClient, stack: Stack) -> None:
    assert revoke_api_key(hash_api_key(stack.workspaces[0].api_key))
    assert_invalid_api_details(client, stack)


def test_revoked_key_stops_working_within_a_minute(client: EventApiClient, stack: Stack) -> None:
    with freeze_time(datetime.now(UTC)) as clock:
        assert client.post(welcome()).status == 202  # now cached in this container
        assert revoke_api_key(hash_api_key(stack.workspaces[0].api_key))
        clock.tick(timedelta(seconds=30))
        assert client.post(welcome()).status == 202  # still within the cache's 60 s
        clock.tick(timedelta(seconds=31))
        assert client.post(welcome()).status == 401


def test_keys_are_stored_only_as_sha256_hashes(stack: Stack) -> None:
    ddb = stack.session.client("dynamodb", region_name="us-east-1")
    items = ddb.scan(TableName=stack.resources.tables["ApiKeysTable"])["Items"]
    dumped = json.dumps(items)
    for demo in stack.workspaces:
        assert demo.api_key not in dumped
        assert hash_api_key(demo.api_key) in dumped


def test_api_key_never_appears_in_logs(client: EventApiClient, stack: Stack, capsys: pytest.CaptureFixture) -> None:
    client.post(welcome(), key="log-check")
    client.post(welcome(), api_key="some-wrong-key-123")
    output = capsys.readouterr()
    assert stack.workspaces[0].api_key not in output.out + output.err
    assert "some-wrong-key-123" not in output.out + output.err
