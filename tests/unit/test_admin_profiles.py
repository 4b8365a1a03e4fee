"""The admin command's `profiles list/show/delete` (docs/contract.md section 6), against stack outputs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from notify.dal.profiles import create_profile, get_profile
from notify.models.profiles import Profile, ProfileChannels
from notify_admin import cli as admin


@pytest.fixture
def profiles_stack(stack: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """A CloudFormation stack in moto whose outputs name the profiles table, as `sam deploy` leaves them."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"ProfilesTableName": {"Value": stack.resources.tables["ProfilesTable"]}},
    }
    cfn = stack.session.client("cloudformation", region_name="us-east-1")
    cfn.create_stack(StackName="profiles-admin", TemplateBody=json.dumps(template))
    workspace = stack.workspaces[0].workspace
    for distinct_id, status in (("user-1", 1), ("user-2", 0)):
        profile = Profile(
            distinct_id=distinct_id,
            status=status,
            channel=ProfileChannels(email=f"{distinct_id}@example.com"),
            created_at="2026-12-01T00:00:00.000Z",
            updated_at="2026-12-01T00:00:00.000Z",
            version="live",
        )
        create_profile(workspace, profile, table=stack.resources.tables["ProfilesTable"])
    return "profiles-admin"


def test_profiles_list_shows_every_profile_with_masked_destinations(
    profiles_stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert admin.run(["--stack-name", profiles_stack, "profiles", "list", "--workspace", "WSLOCAL0001"]) == 0
    out = capsys.readouterr().out
    assert "user-1  active" in out and "user-2  inactive" in out
    assert "user-1@example.com" not in out  # masked, as the logs mask addresses
    assert "2 profile(s) in WSLOCAL0001 (live)" in out
    assert admin.run(["--stack-name", profiles_stack, "profiles", "list", "--workspace", "WSLOCAL0002"]) == 0
    assert "0 profile(s)" in capsys.readouterr().out


def test_profiles_show_prints_the_profile_and_fails_for_an_unknown_one(
    profiles_stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    show = ["--stack-name", profiles_stack, "profiles", "show", "--workspace", "WSLOCAL0001", "--distinct-id"]
    assert admin.run([*show, "user-1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["channel"] == {"email": "user-1@example.com"} and printed["version"] == "live"
    assert admin.run([*show, "nobody"]) == 2
    assert "no profile 'nobody'" in capsys.readouterr().err


def test_profiles_delete_removes_them_and_names_those_missing(
    profiles_stack: str, stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    delete = ["--stack-name", profiles_stack, "profiles", "delete", "--workspace", "WSLOCAL0001"]
    assert admin.run([*delete, "--distinct-id", "user-1", "--distinct-id", "ghost"]) == 2
    captured = capsys.readouterr()
    assert "deleted 1 profile(s)" in captured.out and "no such profile: ghost" in captured.err
    table = stack.resources.tables["ProfilesTable"]
    assert get_profile("WSLOCAL0001", "live", "user-1", table=table) is None
    assert get_profile("WSLOCAL0001", "live", "user-2", table=table) is not None


def test_profiles_need_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert admin.run(["profiles", "list", "--workspace", "WSLOCAL0001"]) == 2
    assert "--profiles-table" in capsys.readouterr().err
