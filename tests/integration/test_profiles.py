"""The Profiles API and sending by distinct_id over real HTTP against `python -m local` (docs/contract.md 6)."""

from __future__ import annotations

import json
import shlex
import uuid
from urllib.parse import quote

import pytest

from tests.support.local_stack import (
    API_KEY_2,
    INVALID_API_DETAILS,
    QUEUE,
    WORKSPACE_1,
    WORKSPACE_2,
    LocalStackProcess,
    headers,
)

pytestmark = pytest.mark.integration


def ok(message: str) -> dict[str, str]:
    return {"_message": message, "status": "ok"}


def error(message: str) -> dict[str, str]:
    return {"_message": message, "status": "error"}


@pytest.fixture
def distinct_id() -> str:
    return f"it-{uuid.uuid4()}"


def test_every_profiles_route_answers_as_specified(local_stack: LocalStackProcess, distinct_id: str) -> None:
    other = f"{distinct_id}-other"
    path = f"profiles/{quote(distinct_id)}"
    created = local_stack.call("POST", "profiles", {"distinct_id": distinct_id, "channel": {"email": "a@example.com"}})
    assert (created.status, created.json()) == (201, ok("Profile created successfully"))
    again = local_stack.call("POST", "profiles", {"distinct_id": distinct_id})
    assert (again.status, again.json()) == (
        400,
        error(f"Distinct ID '{distinct_id}' already exists in the 'live' version of your workspace"),
    )
    got = local_stack.call("GET", path)
    assert got.status == 200 and got.json()["channel"] == {"email": "a@example.com"}

    assert local_stack.call("PUT", path, {"name": "Rahul"}).json() == ok("1 Record(s) updated successfully")
    patched = local_stack.call(
        "PATCH", f"{path}/channel", {"channel": {"push": [{"token": "t1"}], "sms": "+14155550100"}}
    )
    assert (patched.status, patched.json()) == (200, ok("1 Record(s) updated successfully"))
    bad = local_stack.call("PATCH", f"{path}/channel", {"channel": {"sms": "555"}})
    assert bad.status == 400 and bad.json()["errors"][0]["field"] == "channel.sms"
    deleted = local_stack.call("POST", f"{path}/channel/delete", {"push": ["t1"]})
    assert (deleted.status, deleted.json()) == (200, ok("Channel has been modified successfully"))
    missing = local_stack.call("POST", f"{path}/channel/delete", {"push": ["t1"]})
    assert missing.json() == error("Unable to delete channel since the channel does not exist")

    local_stack.call("POST", "profiles", {"distinct_id": other, "channel": {"email": "b@example.com"}})
    merged = local_stack.call("PATCH", f"{path}/merge/{quote(other)}")
    assert (merged.status, merged.json()) == (200, ok("1 Record(s) updated and 1 Records(s) deleted"))
    assert local_stack.call("GET", path).json() == error("incorrect/non existing distinct_id provided")
    target = local_stack.call("GET", f"profiles/{quote(other)}").json()
    assert target["channel"] == {"email": "b@example.com", "sms": "+14155550100"} and target["name"] is None
    assert local_stack.call("PATCH", f"{path}/merge/{quote(other)}").json() == error("merge from id does not exist")
    assert local_stack.call("PUT", path, {"name": "x"}).json() == error(
        "Unable to update the record since the record does not exist"
    )

    gone = local_stack.call("POST", "profiles/delete", {"distinct_id": [other, "never"]})
    assert (gone.status, gone.json()) == (200, ok("1 User(s) deleted successfully"))
    assert local_stack.call("POST", "profiles/delete", {"distinct_id": [other]}).json() == error(
        "Cannot delete non existing user"
    )


def test_profiles_routes_need_the_workspaces_key(local_stack: LocalStackProcess) -> None:
    refused = local_stack.call("GET", "profiles/anyone", api_key=API_KEY_2)
    assert (refused.status, refused.json()) == (401, INVALID_API_DETAILS)
    theirs = local_stack.call("GET", "profiles/demo-user-0001", workspace=WORKSPACE_2, api_key=API_KEY_2)
    assert theirs.status == 200  # each workspace has its own seeded demo profile


def test_R4_an_event_by_distinct_id_is_queued_to_the_profile_and_replays_after_the_profile_changed(
    local_stack: LocalStackProcess, distinct_id: str
) -> None:
    local_stack.drain_queue(QUEUE)
    local_stack.call("POST", "profiles", {"distinct_id": distinct_id, "channel": {"email": "first@example.com"}})
    body = json.dumps({"event": "Welcome_Email", "distinct_id": distinct_id, "data": {"name": "R"}})
    key = f"it-{uuid.uuid4()}"
    first = local_stack.call("POST", "event", body, key=key)
    assert first.status == 202, first.text
    assert first.json()["response"]["email"]["destination"] == "first@example.com"

    local_stack.call("PATCH", f"profiles/{quote(distinct_id)}/channel", {"channel": {"email": "second@example.com"}})
    replay = local_stack.call("POST", "event", body, key=key)
    assert (replay.status, replay.body, replay.headers["idempotency-replayed"]) == (202, first.body, "true")
    assert [m["destination"] for m in local_stack.drain_queue(QUEUE)] == ["first@example.com"]


def test_an_unknown_distinct_id_with_nothing_in_to_is_400(local_stack: LocalStackProcess) -> None:
    body = json.dumps({"event": "Welcome_Email", "distinct_id": "nobody-here"})
    refused = local_stack.call("POST", "event", body, key=f"it-{uuid.uuid4()}")
    assert refused.status == 400 and refused.json()["errors"][0]["field"] == "distinct_id"


def test_the_banner_prints_a_curl_that_sends_by_distinct_id_to_the_seeded_profile(
    local_stack: LocalStackProcess,
) -> None:
    local_stack.drain_queue(QUEUE)
    line = next(line for line in local_stack.banner if line.startswith("curl ") and "distinct_id" in line)
    curl = shlex.split(line)
    url = curl[curl.index("-X") + 2]
    sent = dict(curl[i + 1].split(": ", 1) for i, arg in enumerate(curl) if arg == "-H")
    body = curl[curl.index("-d") + 1]
    assert json.loads(body)["distinct_id"] == "demo-user-0001" and "to" not in json.loads(body)

    answer = local_stack.request("POST", url.split(str(local_stack.api_port), 1)[1], body, sent)
    assert answer.status == 202, answer.text
    assert answer.json()["response"]["email"]["destination"] == "rahul.profile@example.com"
    assert [m["destination"] for m in local_stack.drain_queue(QUEUE)] == ["rahul.profile@example.com"]


def test_fyno_node_sdk_profile_calls_with_a_trailing_slash(local_stack: LocalStackProcess, distinct_id: str) -> None:
    """The HTTP calls Fyno's Node SDK makes (test/profiles.test.js): it creates profiles at `.../profiles/`."""
    body = {"distinct_id": distinct_id, "channel": {"email": "n@example.com"}}
    created = local_stack.call("POST", "profiles/", body)
    assert (created.status, created.json()) == (201, ok("Profile created successfully"))
    got = local_stack.call("GET", f"profiles/{quote(distinct_id)}/")
    assert got.status == 200 and got.json()["channel"] == {"email": "n@example.com"}
    deleted = local_stack.call("POST", "profiles/delete/", {"distinct_id": [distinct_id]})
    assert (deleted.status, deleted.json()) == (200, ok("1 User(s) deleted successfully"))


def test_unknown_routes_are_404_and_wrong_methods_405_in_the_error_shape(local_stack: LocalStackProcess) -> None:
    unknown = local_stack.request("GET", f"/v1/{WORKSPACE_1}/live/nothing-here")
    assert (unknown.status, unknown.json()) == (404, error("Not found"))
    wrong = local_stack.request("GET", f"/v1/{WORKSPACE_1}/live/event")
    assert (wrong.status, wrong.headers.get("allow"), wrong.json()["status"]) == (405, "POST", "error")


def test_a_suppressed_address_gets_nothing_and_shows_skipped_over_http(local_stack: LocalStackProcess) -> None:
    """Fyno's suppression routes on `make run` (docs/contract.md section 8)."""
    address = f"sup-{uuid.uuid4().hex[:12]}@example.com"
    base = f"/v1/{WORKSPACE_1}/suppressions"
    body = json.dumps({"destination": address, "channel": "email", "description": "it test"})
    added = local_stack.request("POST", f"{base}/", body, headers())
    assert (added.status, added.json()) == (
        200,
        {"status": "ok", "_message": "User has been added to the suppression!"},
    )
    event = {"event": "Welcome_Email", "to": {"email": address}, "data": {"name": "S"}}
    accepted = local_stack.call("POST", "event", event)
    assert accepted.status == 202
    assert accepted.json()["response"]["email"]["status"] == "skipped"
    listed = local_stack.request("GET", base, headers=headers())
    entry = next(e for e in listed.json() if e["destination"] == address)
    removed = local_stack.request("DELETE", f"{base}?_id={entry['_id']}", headers=headers())
    assert removed.status == 200
