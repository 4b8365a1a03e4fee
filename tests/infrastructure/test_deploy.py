"""`make deploy` (local/deploy.py): what it hands `sam deploy`, and a guided deploy that finishes.

A stand-in `sam` (a script) records its arguments and asks questions as SAM CLI does, so nothing here
needs AWS.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local import deploy
from local.process import local_stack_environment

ROOT = Path(__file__).resolve().parents[2]

RECORDING_SAM = """\
import json, sys
with open({record!r}, "w") as out:
    json.dump(sys.argv[1:], out)
"""

# The questions `sam deploy --guided` asks (samcli/commands/deploy/guided_context.py), in its order, with its
# bold markers: a parameter, then one authentication question per route without an authorizer, whose
# default No aborts the deploy, then whether to save the answers.
GUIDED_SAM = """\
import re, sys
overrides = sys.argv[sys.argv.index("--parameter-overrides") + 1]
sender = re.search(r"SenderEmail=(\\S+)", overrides)[1]
answers = {}
answers["SenderEmail"] = input(f"\\tParameter SenderEmail [{sender}]: ") or sender
for function in ("EventApiFunction", "BulkApiFunction", "StatusApiFunction"):
    answer = input(f"\\t\\x1b[1m{function} has no authentication. Is this okay?\\x1b[0m [y/N]: ")
    if answer.strip().lower() != "y":
        print("Error: Security Constraints Not Satisfied!")
        sys.exit(1)
answers["save"] = input("\\tSave arguments to configuration file [Y/n]: ") or "Y"
print("deployed", answers)
"""


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    built = tmp_path / "build"
    (built / "SharedLayer" / "notify").mkdir(parents=True)
    (built / "SharedLayer" / "notify" / "__init__.py").write_text("")
    (built / "template.yaml").write_text((ROOT / "template.yaml").read_text())
    return built


def fake_sam(tmp_path: Path, source: str) -> Path:
    script = tmp_path / "sam"
    script.write_text(f"#!{sys.executable}\n{source}")
    script.chmod(0o755)
    return script


def test_deploy_passes_samconfig_s_overrides_the_given_ones_and_a_fingerprint(tmp_path: Path, build_dir: Path) -> None:
    record = tmp_path / "argv.json"
    sam = fake_sam(tmp_path, RECORDING_SAM.format(record=str(record)))
    given = ["SenderEmail=ops@acme.test", "AlarmEmail=on call@acme.test"]
    assert deploy.main(["--env", "dev", "--sam", str(sam), "--build-dir", str(build_dir), *given]) == 0
    argv = json.loads(record.read_text())
    assert argv[:3] == ["deploy", "--config-env", "dev"]
    overrides = deploy.parse_overrides(argv[argv.index("--parameter-overrides") + 1])
    assert overrides["LogRetentionDays"] == "7"  # samconfig.toml's dev
    assert overrides["SenderEmail"] == "ops@acme.test"
    assert overrides["AlarmEmail"] == "on call@acme.test"  # quoted through, one value
    assert re.fullmatch(r"[0-9a-f]{64}", overrides["DeployFingerprint"])


def test_deploy_without_a_build_says_to_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert deploy.main(["--env", "dev", "--build-dir", str(tmp_path / "nothing"), "--print-overrides"]) == 2
    assert "run `make build` first" in capsys.readouterr().err


def test_a_bad_override_is_a_clear_error(build_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert deploy.main(["--build-dir", str(build_dir), "--print-overrides", "SenderEmail"]) == 2
    assert "a parameter override is Name=value, got 'SenderEmail'" in capsys.readouterr().err


def run_interactively(command: list[str], answers: dict[str, str], timeout: float = 30) -> tuple[int, str]:
    """Run `command`, typing each answer once its question (a regex) shows on the output, as an operator would."""
    process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env=local_stack_environment(),
    )
    assert process.stdin is not None and process.stdout is not None
    output, pending = b"", dict(answers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                break
            output += chunk
        for question, answer in list(pending.items()):
            if re.search(question.encode(), output):
                process.stdin.write(answer.encode() + b"\n")
                process.stdin.flush()
                del pending[question]
    process.stdin.close()
    try:
        return process.wait(timeout=10), output.decode(errors="replace")
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"still waiting for an answer after {timeout}s; it printed:\n{output.decode(errors='replace')}")


def guided_deploy(sam: Path, build_dir: Path) -> list[str]:
    """`make deploy GUIDED=1`'s command, with the stand-in `sam`."""
    return [
        sys.executable,
        "-m",
        "local.deploy",
        "--env",
        "dev",
        "--guided",
        "--sam",
        str(sam),
        "--build-dir",
        str(build_dir),
    ]


def guided(tmp_path: Path, build_dir: Path, answers: dict[str, str]) -> tuple[int, str]:
    """`make deploy GUIDED=1` against the stand-in `sam`, answering each question (a regex) as `answers` says."""
    return run_interactively(guided_deploy(fake_sam(tmp_path, GUIDED_SAM), build_dir), answers)


def test_a_guided_deploy_finishes_with_the_authentication_questions_answered(tmp_path: Path, build_dir: Path) -> None:
    code, output = guided(
        tmp_path,
        build_dir,
        {
            r"SenderEmail, the address": "ops@acme.test",
            r"Parameter SenderEmail \[ops@acme.test\]: ": "",
            r"Save arguments to configuration file": "",
        },
    )
    assert code == 0, output
    assert "deployed {'SenderEmail': 'ops@acme.test', 'save': 'Y'}" in output
    assert output.count("Is this okay?\x1b[0m [y/N]: y") == 3  # answered, each once
    assert "SenderEmail: the address every email is sent from" in output  # which parameters matter


def test_the_guided_deploy_asks_for_a_real_sender_before_sam_offers_the_placeholder(
    tmp_path: Path, build_dir: Path
) -> None:
    code, output = guided(
        tmp_path,
        build_dir,
        {
            r"SenderEmail, the address": "notifications@example.com",
            r"an address you can read mail at": "me@acme.test",
            r"Parameter SenderEmail": "",
            r"Save arguments to configuration file": "",
        },
    )
    assert code == 0, output
    assert "Parameter SenderEmail [me@acme.test]" in output
