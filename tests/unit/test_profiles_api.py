"""Profiles API (docs/contract.md section 6): every route, its answer and its failures, Fyno's messages verbatim."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from local.container import import_function
from tests.support.clients import ProfilesApi


def ok(message: str) -> dict[str, str]:
    return {"_message": message, "status": "ok"}


def error(message: str) -> dict[str, str]:
    return {"_message": message, "status": "error"}


RAHUL: dict[str, Any] = {
    "distinct_id": "user-1",
    "name": "Rahul",
    "timezone": "Asia/Kolkata",
    "channel": {
        "email": "rahul@example.com",
        "sms": "+919876543210",
        "push": [{"token": "t1", "integration_id": "fcm"}],
    },
}


# POST /profiles ------------------------------------------------------------------------------------------------


def test_create_answers_201_and_get_returns_every_field_of_the_profile(profiles: ProfilesApi) -> None:
    created = profiles.create(RAHUL)
    assert (created.status, created.body) == (201, ok("Profile created successfully"))

    found = profiles.get("user-1")
    assert found.status == 200
    body = found.body
    assert {k: body[k] for k in ("distinct_id", "name", "status", "timezone", "version")} == {
        "distinct_id": "user-1",
        "name": "Rahul",
        "status": 1,
        "timezone": "Asia/Kolkata",
        "version": "live",
    }
    assert body["channel"] == {
        "email": "rahul@example.com",
        "sms": "+919876543210",
        "push": [{"token": "t1", "integration_id": "fcm", "status": 1}],
    }
    assert body["created_at"] == body["updated_at"]
    bare = profiles.create({"distinct_id": "bare"})
    assert bare.status == 201
    assert {k: v for k, v in profiles.get("bare").body.items() if k not in ("created_at", "updated_at")} == {
        "distinct_id": "bare",
        "name": None,
        "status": 1,
        "timezone": None,
        "channel": {},
        "version": "live",
    }


def test_creating_an_existing_profile_is_400_and_never_a_second_profile(profiles: ProfilesApi) -> None:
    assert profiles.create(RAHUL).status == 201
    again = profiles.create({**RAHUL, "name": "Someone else"})
    assert (again.status, again.body) == (
        400,
        error("Distinct ID 'user-1' already exists in the 'live' version of your workspace"),
    )
    assert profiles.get("user-1").body["name"] == "Rahul"


def test_live_and_test_profiles_are_separate(profiles: ProfilesApi) -> None:
    assert profiles.create(RAHUL).status == 201
    assert profiles.get("user-1", version="test").body == error("incorrect/non existing distinct_id provided")
    assert profiles.create(RAHUL, version="test").status == 201
    assert profiles.get("user-1", version="test").body["version"] == "test"


def test_profiles_belong_to_one_workspace(profiles: ProfilesApi, stack: Any) -> None:
    assert profiles.create(RAHUL).status == 201
    other = stack.workspaces[1]
    theirs = ProfilesApi(other.workspace, other.api_key, profiles.module)
    assert theirs.get("user-1").status == 400
    # Their key on our workspace is refused before any profile is read.
    refused = profiles.get("user-1", api_key=other.api_key)
    assert (refused.status, refused.body) == (401, error("Invalid API details"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"distinct_id": "u", "channel": {"email": "not-an-email"}}, "channel.email"),
        ({"distinct_id": "u", "channel": {"sms": "0044123"}}, "channel.sms"),
        ({"distinct_id": "u", "channel": {"whatsapp": "+1 415"}}, "channel.whatsapp"),
        ({"distinct_id": "u", "channel": {"slack": "http://hooks.slack.com/x"}}, "channel.slack"),
        ({"distinct_id": "u", "channel": {"fax": "+14155550100"}}, "channel.fax"),
        ({"distinct_id": "u", "channel": {"push": [{"token": ""}]}}, "channel.push.0.token"),
        ({"distinct_id": "u", "channel": {"push": [{"token": "t"}] * 2}}, "channel.push"),
        ({"distinct_id": "u", "channel": {"push": [{"token": f"t{i}"} for i in range(51)]}}, "channel.push"),
        ({"distinct_id": "u", "channel": {"push": [{"token": "x" * 1025}]}}, "channel.push.0.token"),
        ({"distinct_id": "u", "channel": {"email": "a" * 400 + "@example.com"}}, "channel.email"),
        ({"distinct_id": "u", "status": 2}, "status"),
        ({"distinct_id": "", "name": "x"}, "distinct_id"),
        ({"distinct_id": "é" * 300}, "distinct_id"),
        ({"name": "no id"}, "distinct_id"),
    ],
)
def test_an_invalid_profile_is_400_naming_the_field_and_stores_nothing(
    profiles: ProfilesApi, body: dict[str, Any], field: str
) -> None:
    answer = profiles.create(body)
    assert answer.status == 400
    assert answer.body["status"] == "error"
    assert field in [e["field"] for e in answer.body["errors"]], answer.body
    if body.get("distinct_id"):
        assert profiles.get(body["distinct_id"]).status == 400


@pytest.mark.parametrize("raw", ["{", "[]", "null", '"text"'])
def test_a_body_that_is_not_a_json_object_is_400(profiles: ProfilesApi, raw: str) -> None:
    answer = profiles.create({}, raw_body=raw)
    assert answer.status == 400 and answer.body["status"] == "error"


def test_every_route_needs_the_workspaces_key(profiles: ProfilesApi) -> None:
    profiles.create(RAHUL)
    calls = [
        lambda **kw: profiles.create(RAHUL, **kw),
        lambda **kw: profiles.get("user-1", **kw),
        lambda **kw: profiles.put("user-1", {"name": "x"}, **kw),
        lambda **kw: profiles.patch_channel("user-1", {"sms": "+14155550100"}, **kw),
        lambda **kw: profiles.delete_channel("user-1", {"channel": ["sms"]}, **kw),
        lambda **kw: profiles.merge("user-1", "user-2", **kw),
        lambda **kw: profiles.delete(["user-1"], **kw),
    ]
    for call in calls:
        for api_key in (None, "not-a-key"):
            answer = call(api_key=api_key)
            assert (answer.status, answer.body) == (401, error("Invalid API details"))
    assert profiles.get("user-1").body["name"] == "Rahul"


def test_an_unknown_version_is_404(profiles: ProfilesApi) -> None:
    assert profiles.get("user-1", version="staging").status == 404


# GET /profiles/{distinct_id} -----------------------------------------------------------------------------------


def test_get_of_an_unknown_profile_is_400(profiles: ProfilesApi) -> None:
    answer = profiles.get("nobody")
    assert (answer.status, answer.body) == (400, error("incorrect/non existing distinct_id provided"))


def test_a_distinct_id_with_reserved_characters_round_trips_percent_encoded(profiles: ProfilesApi) -> None:
    odd = "user/42?x=#1 é"
    assert profiles.create({**RAHUL, "distinct_id": odd}).status == 201
    assert profiles.get(odd).body["distinct_id"] == odd


def test_a_distinct_id_in_the_path_past_512_bytes_is_400_naming_it(profiles: ProfilesApi) -> None:
    answer = profiles.get("é" * 300)
    assert answer.status == 400
    assert answer.body["errors"][0]["field"] == "distinct_id"


# PUT /profiles/{distinct_id} -----------------------------------------------------------------------------------


def test_put_replaces_the_keys_given_and_keeps_the_others(profiles: ProfilesApi) -> None:
    profiles.create(RAHUL)
    answer = profiles.put("user-1", {"name": "Rahul K", "status": 0, "channel": {"email": "new@example.com"}})
    assert (answer.status, answer.body) == (200, ok("1 Record(s) updated successfully"))
    body = profiles.get("user-1").body
    assert (body["name"], body["status"], body["timezone"]) == ("Rahul K", 0, "Asia/Kolkata")
    assert body["channel"] == {"email": "new@example.com"}


def test_put_twice_leaves_the_same_state(profiles: ProfilesApi) -> None:
    profiles.create(RAHUL)
    change = {"name": "Again", "channel": {"sms": "+14155550100"}}
    assert profiles.put("user-1", change).status == 200
    first = profiles.get("user-1").body
    assert profiles.put("user-1", change).status == 200
    second = profiles.get("user-1").body
    assert {k: v for k, v in first.items() if k != "updated_at"} == {
        k: v for k, v in second.items() if k != "updated_at"
    }


def test_put_with_a_new_distinct_id_renames_the_profile(profiles: ProfilesApi) -> None:
    profiles.create(RAHUL)
    assert profiles.put("user-1", {"distinct_id": "user-9"}).status == 200
    assert profiles.get("user-1").status == 400
    renamed = profiles.get("user-9").body
    assert renamed["channel"]["email"] == "rahul@example.com" and renamed["name"] == "Rahul"
    # Sending the rename again: the old id is gone, nothing changes.
    again = profiles.put("user-1", {"distinct_id": "user-9"})
    assert (again.status, again.body) == (400, error("Unable to update the record since the record does not exist"))
    assert profiles.get("user-9").status == 200


def test_a_rename_onto_an_existing_profile_is_400_and_changes_neither(profiles: ProfilesApi) -> None:
    profiles.create(RAHUL)
    profiles.create({"distinct_id": "user-2", "channel": {"email": "two@example.com"}})
    answer = profiles.put("user-1", {"distinct_id": "user-2"})
    assert (answer.status, answer.body) == (
        400,
        error("Distinct ID 'user-2' already exists in the 'live' version of your workspace"),
    )
    assert profiles.get("user-1").body["channel"]["email"] == "rahul@example.com"
    assert profiles.get("user-2").body["channel"] == {"email": "two@example.com"}


def test_put_of_an_unknown_profile_is_400(profiles: ProfilesApi) -> None:
    answer = profiles.put("nobody", {"name": "x"})
    assert (answer.status, answer.body) == (400, error("Unable to update the record since the record does not exist"))


def test_put_with_an_invalid_destination_is_400_naming_it(profiles: ProfilesApi) -> None:
    profiles.create(RAHUL)
    answer = profiles.put("user-1", {"channel": {"voice": "12345"}})
    assert answer.status == 400 and answer.body["errors"][0]["field"] == "channel.voice"


# PATCH /profiles/{distinct_id}/channel -------------------------------------------------------------------------


def test_patch_replaces_a_single_destination_and_appends_tokens(profiles: ProfilesApi) -> None:
    profiles.create(RAHUL)
    answer = profiles.patch_channel(
        "user-1", {"sms": "+14155550100", "push": [{"token": "t2"}], "inapp": [{"token": "i1", "status": 0}]}
    )
    assert (answer.status, answer.body) == (200, ok("1 Record(s) updated successfully"))
    channel = profiles.get("user-1").body["channel"]
    assert channel["sms"] == "+14155550100"
    assert channel["email"] == "rahul@example.com"
    assert [t["token"] for t in channel["push"]] == ["t1", "t2"]
    assert channel["inapp"] == [{"token": "i1", "status": 0}]


def test_patch_twice_leaves_the_same_tokens(profiles: ProfilesApi) -> None:
    profiles.create(RAHUL)
    patch = {"push": [{"token": "t2", "integration_id": "apns"}]}
    profiles.patch_channel("user-1", patch)
    profiles.patch_channel("user-1", patch)
    assert [t["token"] for t in profiles.get("user-1").body["channel"]["push"]] == ["t1", "t2"]


def test_patching_a_known_token_updates_it_in_place(profiles: ProfilesApi) -> None:
    profiles.create(RAHUL)
    profiles.patch_channel("user-1", {"push": [{"token": "t1", "integration_id": "fcm", "status": 0}]})
    assert profiles.get("user-1").body["channel"]["push"] == [{"token": "t1", "integration_id": "fcm", "status": 0}]


def test_patch_past_50_tokens_is_400_naming_the_channel_and_changes_nothing(profiles: ProfilesApi) -> None:
    profiles.create({**RAHUL, "channel": {"push": [{"token": f"t{i}"} for i in range(50)]}})
    answer = profiles.patch_channel("user-1", {"push": [{"token": "one-more"}]})
    assert answer.status == 400
    assert answer.body["errors"] == [
        {"field": "channel.push", "message": "a profile holds at most 50 push tokens; delete some first"}
    ]
    assert len(profiles.get("user-1").body["channel"]["push"]) == 50


def test_patch_of_an_unknown_profile_is_400(profiles: ProfilesApi) -> None:
    answer = profiles.patch_channel("nobody", {"sms": "+14155550100"})
    assert (answer.status, answer.body) == (400, error("incorrect/non existing distinct_id provided"))


@pytest.mark.parametrize(
    ("channel", "field"),
    [({"email": "nope"}, "channel.email"), ({}, "channel"), ({"sms": "+0"}, "channel.sms")],
)
def test_patch_with_an_invalid_destination_is_400_naming_it(
    profiles: ProfilesApi, channel: dict[str, Any], field: str
) -> None:
    profiles.create(RAHUL)
    answer = profiles.patch_channel("user-1", channel)
    assert answer.status == 400
    assert answer.body["errors"][0]["field"] == field


@pytest.mark.usefixtures("atomic_dynamodb")
def test_concurrent_patches_adding_tokens_never_lose_one(profiles: ProfilesApi) -> None:
    """Each racer is its own container (handler module); DynamoDB's conditional writes are atomic."""
    profiles.create({"distinct_id": "racer", "channel": {}})
    racers = 12
    containers = [
        ProfilesApi(profiles.workspace, profiles.api_key, import_function("profiles_api", instance=f"_race{i}"))
        for i in range(racers)
    ]
    start = threading.Barrier(racers)

    def add(index: int) -> int:
        start.wait()
        return containers[index].patch_channel("racer", {"push": [{"token": f"token-{index}"}]}).status

    with ThreadPoolExecutor(racers) as pool:
        statuses = list(pool.map(add, range(racers)))

    assert statuses == [200] * racers
    tokens = {t["token"] for t in profiles.get("racer").body["channel"]["push"]}
    assert tokens == {f"token-{i}" for i in range(racers)}


# POST /profiles/{distinct_id}/channel/delete -------------------------------------------------------------------


def test_deleting_whole_channels(profiles: ProfilesApi) -> None:
    profiles.create(RAHUL)
    answer = profiles.delete_channel("user-1", {"channel": ["sms", "push"]})
    assert (answer.status, answer.body) == (200, ok("Channel has been modified successfully"))
    assert profiles.get("user-1").body["channel"] == {"email": "rahul@example.com"}


def test_deleting_tokens_keeps_the_others(profiles: ProfilesApi) -> None:
    profiles.create({**RAHUL, "channel": {"push": [{"token": "t1"}, {"token": "t2"}], "inapp": [{"token": "i1"}]}})
    answer = profiles.delete_channel("user-1", {"push": ["t1"], "inapp": ["i1"]})
    assert answer.status == 200
    assert profiles.get("user-1").body["channel"] == {"push": [{"token": "t2", "status": 1}]}


def test_deleting_a_channel_that_is_not_there_is_400_and_a_second_delete_changes_nothing(
    profiles: ProfilesApi,
) -> None:
    profiles.create(RAHUL)
    assert profiles.delete_channel("user-1", {"channel": ["sms"]}).status == 200
    again = profiles.delete_channel("user-1", {"channel": ["sms"]})
    assert (again.status, again.body) == (400, error("Unable to delete channel since the channel does not exist"))
    unknown_token = profiles.delete_channel("user-1", {"push": ["never-added"]})
    assert unknown_token.body == error("Unable to delete channel since the channel does not exist")
    assert profiles.get("user-1").body["channel"]["email"] == "rahul@example.com"


@pytest.mark.parametrize(
    "body", [{"channel": ["sms"], "push": ["t1"]}, {}, {"channel": []}, {"channel": ["fax"]}, {"push": []}]
)
def test_channel_delete_needs_channels_or_tokens_not_both(profiles: ProfilesApi, body: dict[str, Any]) -> None:
    profiles.create(RAHUL)
    answer = profiles.delete_channel("user-1", body)
    assert answer.status == 400 and answer.body["status"] == "error"
    assert profiles.get("user-1").body["channel"] == RAHUL["channel"] | {
        "push": [{"token": "t1", "integration_id": "fcm", "status": 1}]
    }


def test_channel_delete_of_an_unknown_profile_is_400(profiles: ProfilesApi) -> None:
    answer = profiles.delete_channel("nobody", {"channel": ["sms"]})
    assert (answer.status, answer.body) == (400, error("incorrect/non existing distinct_id provided"))


# PATCH /profiles/{source}/merge/{target} -----------------------------------------------------------------------


def test_merge_unites_into_the_target_and_deletes_the_source(profiles: ProfilesApi) -> None:
    profiles.create(RAHUL)
    profiles.create(
        {
            "distinct_id": "user-2",
            "name": "Target",
            "channel": {"email": "target@example.com", "push": [{"token": "t9"}, {"token": "t1", "status": 0}]},
        }
    )
    answer = profiles.merge("user-1", "user-2")
    assert (answer.status, answer.body) == (200, ok("1 Record(s) updated and 1 Records(s) deleted"))
    assert profiles.get("user-1").status == 400
    target = profiles.get("user-2").body
    assert target["name"] == "Target"
    assert target["channel"]["email"] == "target@example.com"  # the target wins for single channels
    assert target["channel"]["sms"] == "+919876543210"  # what only the source had joins it
    # Tokens are united; for a token both hold, the target's entry wins.
    assert target["channel"]["push"] == [
        {"token": "t1", "status": 0},
        {"token": "t9", "status": 1},
    ]


def test_merge_into_an_unknown_target_renames_the_source(profiles: ProfilesApi) -> None:
    profiles.create(RAHUL)
    assert profiles.merge("user-1", "user-7").status == 200
    assert profiles.get("user-1").status == 400
    assert profiles.get("user-7").body["channel"]["email"] == "rahul@example.com"


def test_merge_from_an_unknown_profile_is_400_so_a_second_merge_changes_nothing(profiles: ProfilesApi) -> None:
    profiles.create(RAHUL)
    profiles.create({"distinct_id": "user-2"})
    assert profiles.merge("user-1", "user-2").status == 200
    again = profiles.merge("user-1", "user-2")
    assert (again.status, again.body) == (400, error("merge from id does not exist"))
    assert profiles.get("user-2").body["channel"]["email"] == "rahul@example.com"


def test_merging_a_profile_into_itself_is_400_and_keeps_it(profiles: ProfilesApi) -> None:
    profiles.create(RAHUL)
    answer = profiles.merge("user-1", "user-1")
    assert answer.status == 400 and answer.body["errors"][0]["field"] == "target"
    assert profiles.get("user-1").status == 200


def test_a_merge_that_fails_midway_leaves_both_profiles(profiles: ProfilesApi, stack: Any) -> None:
    """The merge is one transaction: when DynamoDB refuses it, neither profile changed."""
    from tests.support.faults import fail_call

    profiles.create(RAHUL)
    profiles.create({"distinct_id": "user-2"})
    with fail_call("dynamodb", "DeleteItem", table=stack.resources.tables["ProfilesTable"]) as calls:
        answer = profiles.merge("user-1", "user-2")
    assert calls, "the merge was not one transaction with a Delete"
    assert answer.status == 503 and answer.headers["retry-after"] == "2"
    assert profiles.get("user-1").body["channel"]["email"] == "rahul@example.com"
    assert profiles.get("user-2").body["channel"] == {}


# POST /profiles/delete ------------------------------------------------------------------------------------------


def test_delete_profiles_counts_those_deleted(profiles: ProfilesApi) -> None:
    profiles.create(RAHUL)
    profiles.create({"distinct_id": "user-2"})
    answer = profiles.delete(["user-1", "user-2", "never-existed"])
    assert (answer.status, answer.body) == (200, ok("2 User(s) deleted successfully"))
    assert profiles.get("user-1").status == 400 and profiles.get("user-2").status == 400


def test_deleting_only_unknown_profiles_is_400(profiles: ProfilesApi) -> None:
    answer = profiles.delete(["nobody"])
    assert (answer.status, answer.body) == (400, error("Cannot delete non existing user"))


@pytest.mark.parametrize("body", [{"distinct_id": []}, {"distinct_id": "user-1"}, {"distinct_id": ["x"] * 101}, {}])
def test_delete_profiles_with_an_invalid_body_is_400_naming_distinct_id(
    profiles: ProfilesApi, body: dict[str, Any]
) -> None:
    profiles.create(RAHUL)
    answer = profiles.call("POST", "profiles/delete", body)
    assert answer.status == 400 and answer.body["errors"][0]["field"].startswith("distinct_id")
    assert profiles.get("user-1").status == 200


# The store unreachable ------------------------------------------------------------------------------------------


def test_an_unreachable_profiles_table_is_503_with_retry_after(profiles: ProfilesApi, stack: Any) -> None:
    profiles.create(RAHUL)
    from tests.support.faults import fail_call

    with fail_call("dynamodb", "GetItem", table=stack.resources.tables["ProfilesTable"]):
        for answer in (profiles.get("user-1"), profiles.patch_channel("user-1", {"sms": "+14155550100"})):
            assert answer.status == 503 and answer.headers["retry-after"] == "2"
            assert answer.body["status"] == "error"
    assert profiles.get("user-1").body["channel"]["sms"] == "+919876543210"


def test_profile_answers_fit_the_documented_models(profiles: ProfilesApi) -> None:
    from notify.models.profiles import Profile
    from notify.models.responses import ErrorBody, ProfileOk

    ProfileOk.model_validate(profiles.create(RAHUL).body, strict=True)
    Profile.model_validate(profiles.get("user-1").body)
    ErrorBody.model_validate(profiles.get("nobody").body, strict=True)
