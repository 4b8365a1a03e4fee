"""`make deploy`: deploy what `sam build` built, so every aliased function publishes a version when what it
runs changed (docs/deploy.md).

    python -m local.deploy --env dev [--guided] [--sam .venv-sam/bin/sam] [Name=value ...]

SAM names an `AutoPublishAlias` function's version after a hash of the function's own properties, with the
parameters they reference unresolved; a change to the shared layer or to a parameter value publishes nothing
on its own, and the `live` alias keeps the old code. So this computes DeployFingerprint, a hash of the built
code (every function and the layer, as `sam build` left them) and of the value of every parameter the
functions read, and passes it to the template, whose aliased functions take it as AutoPublishCodeSha256: the
version's logical id is made from it, and the function's description ends with it.

Parameter values: samconfig.toml's `parameter_overrides` for the environment, then those given here. A
parameter given nowhere keeps its previous value on an existing stack (sam deploy's UsePreviousValue) and
counts with the template's default: a change made through `make deploy` always changes the fingerprint.

Only the standard library: it runs with the machine's python3, before any virtualenv is needed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import subprocess  # nosec B404  # runs SAM CLI, with fixed arguments
import sys
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / ".aws-sam" / "build"
FINGERPRINT_PARAMETER = "DeployFingerprint"

# The parameters a first deploy should set, with why; printed before a guided deploy (docs/deploy.md).
PARAMETERS_THAT_MATTER = {
    "SenderEmail": "the address every email is sent from; SES must verify it (or its domain)",
    "SenderIdentityExists": "true if SES already has that address or its domain; false creates the identity "
    "and SES mails a verification link to the address",
    "AlarmEmail": "where alarms go; the address must confirm the subscription SNS mails it",
}


def parse_overrides(text: str | Sequence[str]) -> dict[str, str]:
    """`Name=value Other="with spaces"`, as samconfig.toml and `sam deploy --parameter-overrides` take them."""
    items = shlex.split(text) if isinstance(text, str) else list(text)  # a list: one Name=value an item
    overrides = {}
    for item in items:
        name, separator, value = item.partition("=")
        if not separator or not re.fullmatch(r"[A-Za-z0-9]+", name):
            raise ValueError(f"a parameter override is Name=value, got {item!r}")
        overrides[name] = value
    return overrides


def format_overrides(overrides: dict[str, str]) -> str:
    return " ".join(
        f'{name}="{value}"' if re.search(r"\s", value) else f"{name}={value}" for name, value in overrides.items()
    )


def samconfig_overrides(environment: str, samconfig: Path = ROOT / "samconfig.toml") -> dict[str, str]:
    config = tomllib.loads(samconfig.read_text())
    if environment not in config:
        raise ValueError(f"samconfig.toml has no environment {environment!r} (it has {', '.join(config)})")
    given = config[environment].get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
    return parse_overrides(given)


def _references(value: Any) -> Iterator[str]:
    """Names a template value refers to: Ref targets, ${Name} of Fn::Sub, and conditions of Fn::If."""
    if isinstance(value, dict):
        for key, argument in value.items():
            if key == "Ref" and isinstance(argument, str):
                yield argument
            elif key == "Fn::Sub":
                text = argument if isinstance(argument, str) else argument[0]
                yield from (name for name in re.findall(r"\$\{([^}!.]+)\}", text))
            elif key == "Fn::If" and isinstance(argument, list):
                yield f"Condition:{argument[0]}"
            yield from _references(argument)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def parameters_functions_read(template: dict[str, Any]) -> set[str]:
    """The template parameters a function's properties reach (Globals included), through conditions too."""
    parameters = set(template.get("Parameters", {}))
    conditions = template.get("Conditions", {})
    pending = [template.get("Globals", {}).get("Function", {})]
    pending += [
        r.get("Properties", {}) for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"
    ]
    found: set[str] = set()
    seen_conditions: set[str] = set()
    while pending:
        for name in _references(pending.pop()):
            if name.startswith("Condition:"):
                condition = name.removeprefix("Condition:")
                if condition not in seen_conditions and condition in conditions:
                    seen_conditions.add(condition)
                    pending.append(conditions[condition])
            elif name in parameters:
                found.add(name)
    found.discard(FINGERPRINT_PARAMETER)
    return found


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            yield path


def fingerprint(build_dir: Path, template: dict[str, Any], overrides: dict[str, str]) -> str:
    """SHA-256 of the built code, of the functions' definitions and of the values of the parameters they read."""
    digest = hashlib.sha256()
    for path in _files(build_dir):
        if path.name == "template.yaml" and path.parent == build_dir:
            continue  # the template: only what the functions are made of counts, below
        digest.update(str(path.relative_to(build_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    # The functions' and layers' definitions (memory, timeout, environment, SnapStart...), references unresolved.
    definitions = {
        "Globals": template.get("Globals", {}).get("Function", {}),
        **{
            logical_id: resource
            for logical_id, resource in template["Resources"].items()
            if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion")
        },
    }
    digest.update(json.dumps(definitions, sort_keys=True).encode())
    declared = template.get("Parameters", {})
    values = {
        name: overrides.get(name, str(declared[name].get("Default", "")))
        for name in sorted(parameters_functions_read(template))
    }
    digest.update(json.dumps(values, sort_keys=True).encode())
    return digest.hexdigest()


def load_template(path: Path) -> dict[str, Any]:
    # local.template's loader, uncached (a build replaces the file): imported here, parsing overrides needs no PyYAML.
    from local.template import load_template as load

    return dict(load.__wrapped__(path))


def deploy_overrides(environment: str, given: dict[str, str], build_dir: Path = BUILD_DIR) -> dict[str, str]:
    """The overrides `make deploy` passes: samconfig's, then the given ones, then the fresh fingerprint."""
    built = build_dir / "template.yaml"
    if not built.is_file():
        raise ValueError(f"{built} is missing: run `make build` first (make deploy does)")
    overrides = {**samconfig_overrides(environment), **given}
    overrides.pop(FINGERPRINT_PARAMETER, None)
    overrides[FINGERPRINT_PARAMETER] = fingerprint(build_dir, load_template(built), overrides)
    return overrides


# The guided deploy ------------------------------------------------------------------------------------------

# `sam deploy --guided` asks once per route without an authorizer whether that is okay, default No, and stops
# at the first No. Every route here is meant to be so: API Gateway passes each request on, and the function
# authenticates its API key itself (docs/contract.md), so there is nothing to add. Only those questions are
# answered for the operator; every other one (parameters, capabilities, saving samconfig.toml) is theirs.
AUTH_PROMPT = re.compile(rb"has no authentication\. Is this okay\?[^\n]*\[y/N\]: ?$")


class AuthPromptAnswerer:
    """Reads the guided deploy's output through its terminal and answers its authentication questions."""

    def __init__(self) -> None:
        self.tail = b""
        self.answered = 0

    def __call__(self, fd: int) -> bytes:
        data = os.read(fd, 1024)
        self.tail = (self.tail + data)[-512:]
        if AUTH_PROMPT.search(self.tail):
            os.write(fd, b"y\n")
            self.answered += 1
            self.tail = b""
        return data


PLACEHOLDER_SENDER = "notifications@example.com"  # template.yaml's default, refused by its rule SenderEmailIsYours


def is_real_sender(address: str) -> bool:
    return "@" in address and address != PLACEHOLDER_SENDER


def ask_sender_email() -> str:
    """Asked before the guided deploy, whose own question would offer the placeholder the template refuses."""
    while True:
        address = input("SenderEmail, the address every email is sent from (one you own): ").strip()
        if is_real_sender(address):
            return address
        print("  an address you can read mail at: SES mails it a verification link")


def run_guided(command: list[str]) -> int:
    """Run `command` on a pseudo-terminal (its questions read the keyboard), answering the auth questions."""
    import pty

    print("Parameters that matter on a first deploy (press Enter to keep any other default):")
    for name, why in PARAMETERS_THAT_MATTER.items():
        print(f"  {name}: {why}")
    print("Each '<Function> has no authentication' question is answered y: the functions check API keys.")
    sys.stdout.flush()
    answerer = AuthPromptAnswerer()
    status = pty.spawn(command, answerer)
    return os.waitstatus_to_exitcode(status)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.deploy", description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="default", help="the samconfig.toml environment (make's ENV)")
    parser.add_argument("--sam", default=str(ROOT / ".venv-sam" / "bin" / "sam"), help="the sam executable")
    parser.add_argument("--guided", action="store_true", help="sam deploy --guided (a first deploy)")
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR, help="what sam build built")
    parser.add_argument("--print-overrides", action="store_true", help="print the overrides and deploy nothing")
    parser.add_argument(
        "--no-execute-changeset", action="store_true", help="create and show the change set only (make's REVIEW=1)"
    )
    parser.add_argument("overrides", nargs="*", metavar="Name=value", help="parameter values (make's PARAMS)")
    args = parser.parse_args(argv)
    try:
        given = parse_overrides(args.overrides)
        if args.guided and not is_real_sender({**samconfig_overrides(args.env), **given}.get("SenderEmail", "")):
            given["SenderEmail"] = ask_sender_email()
        overrides = deploy_overrides(args.env, given, args.build_dir)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.print_overrides:
        print(format_overrides(overrides))
        return 0
    command = [args.sam, "deploy", "--config-env", args.env, "--parameter-overrides", format_overrides(overrides)]
    if args.no_execute_changeset:
        command.append("--no-execute-changeset")
    if args.guided:
        return run_guided([*command, "--guided"])
    return subprocess.run(command, check=False).returncode  # noqa: S603  # nosec B603  # the sam executable, no shell


if __name__ == "__main__":
    sys.exit(main())
