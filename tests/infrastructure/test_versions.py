"""Every aliased function publishes a new version, and its `live` alias moves, when what it runs changed: the
shared layer, its own code, or a parameter it reads; and none when nothing changed (docs/deploy.md).

The template is transformed as `make deploy` has CloudFormation transform it: `sam build`'s folders (here a
copy of the sources per logical id), `sam package`'s S3 keys made from their contents, the parameter
overrides local/deploy.py computes (DeployFingerprint included), then SAM's transform (aws-sam-translator,
run by the SAM virtualenv's Python: tests/support/sam_transform.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local.deploy import FINGERPRINT_PARAMETER, deploy_overrides, parameters_functions_read
from local.template import load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
TRANSFORM = ROOT / "tests" / "support" / "sam_transform.py"
ALIASED = sorted(
    logical_id
    for logical_id, function in resources_of_type("AWS::Serverless::Function").items()
    if "AutoPublishAlias" in function["Properties"]
)


def transform(*requests: dict[str, Any]) -> list[dict[str, Any]]:
    if not SAM_PYTHON.is_file():
        pytest.fail("aws-sam-translator runs from the SAM virtualenv: run `make sam-deps` first")
    done = subprocess.run(  # noqa: S603 - fixed interpreter and script
        [str(SAM_PYTHON), str(TRANSFORM)],
        input=json.dumps([{"template": str(ROOT / "template.yaml"), **r} for r in requests]),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return list(json.loads(done.stdout))


def versions(template: dict[str, Any]) -> dict[str, str]:
    """Aliased function -> the logical id of the version its alias points at."""
    aliases = {
        resource["Properties"]["FunctionName"]["Ref"]: resource["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Alias"
    }
    return {function: aliases[function] for function in ALIASED}


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """What `sam build` leaves: a folder per function and one for the layer, named by logical id."""
    build_dir = tmp_path / "build"
    shutil.copytree(ROOT / "layers", build_dir / "SharedLayer", ignore=shutil.ignore_patterns("__pycache__"))
    for logical_id, function in resources_of_type("AWS::Serverless::Function").items():
        shutil.copytree(ROOT / function["Properties"]["CodeUri"], build_dir / logical_id)
    shutil.copy(ROOT / "template.yaml", build_dir / "template.yaml")
    return build_dir


def deployed(build_dir: Path, **parameters: str) -> dict[str, Any]:
    """A `make deploy ENV=dev PARAMS=...` of this build: what it passes, and what SAM makes of it."""
    overrides = deploy_overrides("dev", {"SenderEmail": "ops@example.org", **parameters}, build_dir)
    return {"template": str(build_dir / "template.yaml"), "parameters": overrides, "build_dir": str(build_dir)}


def test_nothing_changed_publishes_no_version(build: Path) -> None:
    first, again = transform(deployed(build), deployed(build))
    assert versions(first) == versions(again)


def test_a_change_to_the_layer_alone_publishes_a_version_of_every_aliased_function(build: Path) -> None:
    [old] = transform(deployed(build))
    with (build / "SharedLayer" / "notify" / "__init__.py").open("a") as module:
        module.write("\n# a fix in the shared package\n")
    [new] = transform(deployed(build))
    assert all(versions(old)[f] != versions(new)[f] for f in ALIASED), (versions(old), versions(new))


def test_a_change_to_one_function_s_code_publishes_a_version(build: Path) -> None:
    [old] = transform(deployed(build))
    with (build / "StatusApiFunction" / "app.py").open("a") as module:
        module.write("\n# a fix in the handler\n")
    [new] = transform(deployed(build))
    assert versions(old)["StatusApiFunction"] != versions(new)["StatusApiFunction"]


def test_a_change_to_a_function_s_definition_publishes_a_version(build: Path) -> None:
    [old] = transform(deployed(build))
    template = (build / "template.yaml").read_text()
    (build / "template.yaml").write_text(template.replace("      MemorySize: 256\n", "      MemorySize: 384\n", 1))
    [new] = transform(deployed(build))
    assert versions(old)["OpenApiFunction"] != versions(new)["OpenApiFunction"]


@pytest.mark.parametrize(
    ("parameter", "first", "second"),
    [("IdempotencyExpirySeconds", "86400", "172800"), ("EnableSnapStart", "false", "true")],
)
def test_a_parameter_the_functions_read_publishes_a_version_when_its_value_changes(
    build: Path, parameter: str, first: str, second: str
) -> None:
    old, new, same = transform(
        deployed(build, **{parameter: first}),
        deployed(build, **{parameter: second}),
        deployed(build, **{parameter: first}),
    )
    assert all(versions(old)[f] != versions(new)[f] for f in ALIASED), (versions(old), versions(new))
    assert versions(old) == versions(same)


def test_a_parameter_no_function_reads_publishes_nothing(build: Path) -> None:
    assert "AlarmEmail" not in parameters_functions_read(load_template())
    old, new = transform(deployed(build, AlarmEmail=""), deployed(build, AlarmEmail="oncall@example.org"))
    assert versions(old) == versions(new)


def test_a_plain_sam_deploy_still_follows_the_layer(build: Path) -> None:
    """Without make deploy's fingerprint, AutoPublishAliasAllProperties and the layer's PublishLambdaVersion
    still publish a version when the layer's content changed."""
    plain: dict[str, Any] = {"parameters": {FINGERPRINT_PARAMETER: ""}, "build_dir": str(build)}
    old, same = transform(plain, plain)
    with (build / "SharedLayer" / "notify" / "__init__.py").open("a") as module:
        module.write("\n# a fix in the shared package\n")
    [new] = transform(plain)
    assert versions(old) == versions(same)
    assert all(versions(old)[f] != versions(new)[f] for f in ALIASED), (versions(old), versions(new))
