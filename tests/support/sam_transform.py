"""Transform template.yaml the way `sam deploy` has CloudFormation transform it, after `sam package`.

Run by the SAM virtualenv's Python (.venv-sam: aws-sam-translator pins a pydantic the app's venv cannot
have), as a script: it reads a JSON list of requests on stdin and prints the transformed templates as JSON.

    [{"template": "template.yaml", "parameters": {"Name": "value"}, "build_dir": ".aws-sam/build"}]

`sam package` replaces each function's CodeUri and each layer's ContentUri by the S3 object of its zipped
build, keyed by the zip's MD5; CloudFormation then runs the SAM transform with the stack's parameter values.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse  # the loader SAM CLI reads templates with (CloudFormation tags)
from samtranslator.translator.transform import transform


class NoManagedPolicies:
    """The template names no managed policy by name (only SAM policy templates and statements)."""

    def load(self) -> dict[str, str]:
        return {}


def folder_digest(folder: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def packaged(template: dict[str, Any], root: Path, build_dir: Path | None) -> dict[str, Any]:
    """Each CodeUri and ContentUri as `sam package` leaves it: the S3 object of the built folder, named by its
    digest (`sam build` builds each into <build dir>/<logical id>; without one, the source folder stands in)."""
    for logical_id, resource in template["Resources"].items():
        key = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}.get(
            resource["Type"]
        )
        if key is None:
            continue
        folder = build_dir / logical_id if build_dir else root / resource["Properties"][key]
        resource["Properties"][key] = f"s3://sam-artifacts/{folder_digest(folder)}"
    return template


def transformed(request: dict[str, Any]) -> dict[str, Any]:
    path = Path(request["template"])
    build_dir = Path(request["build_dir"]) if request.get("build_dir") else None
    template = packaged(yaml_parse(path.read_text()), path.parent, build_dir)
    return transform(template, request.get("parameters", {}), NoManagedPolicies())


def main() -> None:
    requests = json.load(sys.stdin)
    # The transform asks boto3 for the region (AWS::Region, ARNs); it calls no AWS API.
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    json.dump([transformed(request) for request in requests], sys.stdout)


if __name__ == "__main__":
    main()
