"""The admin command: create and revoke API keys, load event definitions, against stack outputs."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from local.container import reset_container_state
from local.seed import DEMO_EVENTS, DemoWorkspace
from notify.dal.api_keys import hash_api_key
from notify.dal.definitions import put_event_definition
from notify_admin import cli as admin
from tests.support.clients import EventApiClient, welcome
from tests.support.stack import Stack


def created_key(output: str) -> str:
    match = re.search(r"^api key:\s+(\S+)$", output, re.MULTILINE)
    assert match, output
    return match[1]


def test_created_key_works_for_its_workspace_only(deployed: str, stack: Stack, capsys: pytest.CaptureFixture) -> None:
    code = admin.run(["--stack-name", deployed, "create-key", "--workspace", "ACME000001"])
    assert code == 0
    api_key = created_key(capsys.readouterr().out)

    for definition in DEMO_EVENTS:
        put_event_definition("ACME000001", definition)
    acme = EventApiClient(DemoWorkspace("ACME000001", api_key))
    assert acme.post(welcome()).status == 202
    assert acme.post(welcome(), workspace="WSLOCAL0001").status == 401


def test_revoke_key_by_key_and_by_hash(deployed: str, stack: Stack, capsys: pytest.CaptureFixture) -> None:
    admin.run(["--stack-name", deployed, "create-key", "--workspace", "ACME000001"])
    api_key = created_key(capsys.readouterr().out)
    assert admin.run(["--stack-name", deployed, "revoke-key", "--key", api_key]) == 0
    demo = stack.workspaces[1]
    by_hash = ["--stack-name", deployed, "revoke-key", "--key-hash", hash_api_key(demo.api_key)]
    assert admin.run(by_hash) == 0
    reset_container_state()
    assert EventApiClient(demo).post(welcome()).status == 401
    assert admin.run(["--stack-name", deployed, "revoke-key", "--key", "never-issued"]) == 2
    assert "no such API key" in capsys.readouterr().err


def test_load_definitions_from_yaml_makes_the_event_usable(
    deployed: str, client: EventApiClient, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    file = tmp_path / "events.yaml"
    file.write_text(
        "events:\n"
        "  - name: PasswordReset\n"
        "    channels:\n"
        "      email: {subject: 'Reset your password', body: 'Use {{ link }}'}\n"
        "      sms: {body: 'Reset: {{ link }}'}\n"
    )
    code = admin.run(["--stack-name", deployed, "load-definitions", str(file), "--workspace", "WSLOCAL0001"])
    assert code == 0
    assert "loaded 1 event definition(s) and 0 automation(s) into WSLOCAL0001: PasswordReset" in capsys.readouterr().out
    response = client.post({"event": "PasswordReset", "to": {"sms": "+14155550100"}, "data": {"link": "x"}})
    assert response.status == 202


def test_load_definitions_from_json_with_explicit_tables(stack: Stack, tmp_path: Path) -> None:
    file = tmp_path / "events.json"
    file.write_text(json.dumps([{"name": "Ping", "channels": {"inapp": {"body": "ping"}}}]))
    args = [
        "--api-keys-table",
        stack.resources.tables["ApiKeysTable"],
        "--definitions-table",
        stack.resources.tables["DefinitionsTable"],
        "load-definitions",
        str(file),
        "--workspace",
        "WSLOCAL0001",
    ]
    assert admin.run(args) == 0


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("{not json", ".json", "is not valid JSON"),
        ("[]", ".json", "must hold a non-empty list of events"),
        ('[{"name": "X", "channels": {"fax": {"body": "x"}}}]', ".json", "invalid event definition at 0.channels.fax"),
        ("events: [", ".yaml", "could not be parsed"),
    ],
)
def test_bad_definition_files_are_clear_errors(
    deployed: str, tmp_path: Path, capsys: pytest.CaptureFixture, content: str, suffix: str, message: str
) -> None:
    file = tmp_path / f"events{suffix}"
    file.write_text(content)
    code = admin.run(["--stack-name", deployed, "load-definitions", str(file), "--workspace", "WSLOCAL0001"])
    assert code == 2
    assert message in capsys.readouterr().err


def test_bad_workspace_and_missing_stack_are_clear_errors(deployed: str, capsys: pytest.CaptureFixture) -> None:
    assert admin.run(["--stack-name", deployed, "create-key", "--workspace", "short"]) == 2
    assert "workspace id must be 10-20 letters or digits" in capsys.readouterr().err
    assert admin.run(["--stack-name", "no-such-stack", "create-key", "--workspace", "ACME000001"]) == 2
    assert "cannot read stack 'no-such-stack'" in capsys.readouterr().err


def test_set_slack_token_stores_a_secure_string_outside_the_definitions_table(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Provider secrets live in SSM under the stack's path, which only the sender may read (template.yaml);
    the API functions read DefinitionsTable, so no secret is there."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr("sys.stdin", io.StringIO("xoxb-admin-set\n"))
    command = ["set-slack-token", "--workspace", "WSLOCAL0001", "--provider-secrets-path", "/local/providers"]

    assert admin.run(command) == 0

    ssm = stack.session.client("ssm", region_name="us-east-1")
    parameter = ssm.get_parameter(Name="/local/providers/WSLOCAL0001/slack-bot-token", WithDecryption=True)
    assert (parameter["Parameter"]["Type"], parameter["Parameter"]["Value"]) == ("SecureString", "xoxb-admin-set")
    ddb = stack.session.client("dynamodb", region_name="us-east-1")
    items = ddb.scan(TableName=stack.resources.tables["DefinitionsTable"])["Items"]
    assert all("xoxb" not in json.dumps(item) for item in items)
    assert "xoxb" not in capsys.readouterr().out


def test_migrate_provider_secrets_moves_legacy_tokens_out_of_the_definitions_table(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A stack upgraded from a version that kept the Slack bot token in DefinitionsTable: the admin command
    moves it into SSM (where the sender reads it) and deletes the item the API functions could read."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    table = stack.resources.tables["DefinitionsTable"]
    ddb = stack.session.client("dynamodb", region_name="us-east-1")
    ddb.put_item(
        TableName=table,
        Item={
            "workspace": {"S": "WSLOCAL0001"},
            "definition_id": {"S": "settings#providers"},
            "body": {"S": json.dumps({"slack_bot_token": "xoxb-legacy"})},
        },
    )
    command = ["--definitions-table", table, "--api-keys-table", stack.resources.tables["ApiKeysTable"]]
    migrate = [*command, "migrate-provider-secrets", "--provider-secrets-path", "/local/providers"]

    assert admin.run(migrate) == 0
    assert admin.run(migrate) == 0  # again: nothing more to move

    ssm = stack.session.client("ssm", region_name="us-east-1")
    parameter = ssm.get_parameter(Name="/local/providers/WSLOCAL0001/slack-bot-token", WithDecryption=True)
    assert (parameter["Parameter"]["Type"], parameter["Parameter"]["Value"]) == ("SecureString", "xoxb-legacy")
    items = ddb.scan(TableName=table)["Items"]
    assert all(item["definition_id"]["S"] != "settings#providers" for item in items)
    output = capsys.readouterr().out
    assert "1 workspace(s) into SSM: WSLOCAL0001" in output and "0 workspace(s)" in output
    assert "xoxb" not in output


def test_a_created_key_can_always_be_revoked_by_its_value(
    deployed: str, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """About one random key in 64 starts with '-', which argparse read as an option of `revoke-key --key`."""
    monkeypatch.setattr(admin.secrets, "token_urlsafe", lambda _: "-dash-first-" + "x" * 32)
    admin.run(["--stack-name", deployed, "create-key", "--workspace", "ACME000001"])
    api_key = created_key(capsys.readouterr().out)
    assert admin.run(["--stack-name", deployed, "revoke-key", "--key", api_key]) == 0
