"""What `make run` promises besides the API: the printed demo, the seeded AWS state, a clear port error."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys

import pytest

from local.process import local_stack_environment
from tests.support.local_stack import ROOT, LocalStackProcess

pytestmark = pytest.mark.integration


def test_banner_prints_both_workspaces_and_keys_then_ready(local_stack: LocalStackProcess) -> None:
    banner = "\n".join(local_stack.banner)

    for workspace, key in (
        ("WSLOCAL0001", "local-key-0001-aaaaaaaaaaaaaaaaaaaa"),
        ("WSLOCAL0002", "local-key-0002-bbbbbbbbbbbbbbbbbbbb"),
    ):
        assert workspace in banner
        assert key in banner
    assert "ready" in local_stack.banner[-1]


def test_printed_curl_is_accepted_and_its_repeat_replays(local_stack: LocalStackProcess) -> None:
    """Runs what the banner's curl line asks for, over http.client (the test needs no curl binary)."""
    curl = shlex.split(next(line for line in local_stack.banner if line.startswith("curl ")))
    url = curl[curl.index("-X") + 2]
    headers = dict(curl[i + 1].split(": ", 1) for i, arg in enumerate(curl) if arg == "-H")
    body = curl[curl.index("-d") + 1]
    path = url.split(str(local_stack.api_port), 1)[1]
    assert json.loads(body) == {
        "event": "Welcome_Email",
        "to": {"email": "rahul@example.com"},
        "data": {"name": "Rahul"},
    }
    assert {"Authorization", "Content-Type", "Idempotency-Key"} <= headers.keys()

    first = local_stack.request("POST", path, body, headers)
    again = local_stack.request("POST", path, body, headers)

    assert first.status == 202, first.text
    assert (again.status, again.body, again.headers["idempotency-replayed"]) == (202, first.body, "true")
    local_stack.drain_queue("NotificationQueue")


def test_stack_outputs_name_the_local_resources(local_stack: LocalStackProcess) -> None:
    stack = local_stack.client("cloudformation").describe_stacks(StackName="idempotent-notify-local")["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}

    assert outputs["ApiUrl"] == f"http://127.0.0.1:{local_stack.api_port}"
    assert outputs["IdempotencyTableName"] == "IdempotencyTable"
    assert outputs["ApiKeysTableName"] == "ApiKeysTable"
    assert outputs["DefinitionsTableName"] == "DefinitionsTable"
    assert outputs["NotificationQueueUrl"] == local_stack.queue_url("NotificationQueue")
    assert outputs["NotificationDLQUrl"] == local_stack.queue_url("NotificationDLQ")


def test_default_sender_is_verified_in_ses_v1_and_v2(local_stack: LocalStackProcess) -> None:
    identities = local_stack.client("ses").list_identities()["Identities"]
    v2 = local_stack.client("sesv2").list_email_identities()["EmailIdentities"]

    assert "notifications@example.com" in identities
    assert any(i["IdentityName"] == "notifications@example.com" and i["SendingEnabled"] for i in v2)


def test_sam_env_vars_file_points_functions_at_this_moto(local_stack: LocalStackProcess) -> None:
    assert local_stack.sam_env_file is not None
    env_vars = json.loads(local_stack.sam_env_file.read_text())

    port = local_stack.moto_url.rsplit(":", 1)[1]
    assert env_vars["EventApiFunction"]["AWS_ENDPOINT_URL"] == f"http://host.docker.internal:{port}"
    assert env_vars["EventApiFunction"]["IDEMPOTENCY_TABLE"] == "IdempotencyTable"


@pytest.mark.parametrize("variable", ["MOTO_PORT", "OUTBOX_PORT"])
def test_taken_port_is_reported_in_one_line_with_nonzero_exit(variable: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        environment = local_stack_environment(**{variable: str(taken)})
        finished = subprocess.run(
            [sys.executable, "-m", "local"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
        )

    assert finished.returncode != 0
    assert finished.stderr.strip().splitlines() == [
        f"local stack: port {taken} ({variable}) is in use; stop what holds it or set {variable}"
    ]
    assert "ready" not in finished.stdout


def test_admin_command_resolves_tables_from_the_local_stack_outputs(local_stack: LocalStackProcess) -> None:
    """`notify_admin --stack-name` reads DescribeStacks outputs; the key it creates works on the API at once."""
    finished = local_stack.admin("--stack-name", "idempotent-notify-local", "create-key", "--workspace", "WSLOCAL0002")
    assert finished.returncode == 0, finished.stderr
    api_key = next(
        line.split(":", 1)[1].strip() for line in finished.stdout.splitlines() if line.startswith("api key:")
    )

    result = local_stack.request(
        "POST",
        "/v1/WSLOCAL0002/test/event",
        json.dumps({"event": "Welcome_Email", "to": {"email": "rahul@example.com"}, "data": {"name": "Rahul"}}),
        {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )

    assert result.status == 202, result.text
    local_stack.drain_queue("NotificationQueue")


def test_doctor_names_what_a_fresh_account_lacks_against_the_local_stack(local_stack: LocalStackProcess) -> None:
    """`make run`'s moto is an account nobody set up for delivery: doctor says so, in plain words, and the
    checks moto cannot answer are reported unknown rather than passed."""
    finished = local_stack.admin("doctor", timeout=120)
    assert finished.returncode == 3, finished.stderr
    out = finished.stdout
    assert "PROBLEM  email sender: notifications@example.com is a placeholder" in out
    assert "PROBLEM  email sandbox: SES account in the sandbox (200 a day, 1 a second)" in out
    assert "UNKNOWN  SMS sandbox: could not ask SNS" in out
    assert "PROBLEM  alarms: no alarm topic: alarms notify nobody" in out
    assert "Traceback" not in finished.stderr
