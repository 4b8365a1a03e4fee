"""Transform template.yaml the way `sam deploy` has CloudFormation transform it, after `sam package`.

Run by the SAM virtualenv's Python (.venv-sam: aws-sam-translator pins a pydantic the app's venv cannot
have), as a script: it reads one JSON request on stdin and prints the transformed template as JSON.

    {"template": "template.yaml", "parameters": {"Name": "value"}, "artifacts": {"SharedLayer": "s3://b/k"}}

`sam package` replaces each function's CodeUri and each layer's ContentUri by the S3 object of its zipped
build, keyed by the zip's MD5: `artifacts` gives that URI per logical id (the others get one made from
their folder's contents). CloudFormation runs the SAM transform with the stack's parameter values.
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


def packaged(template: dict[str, Any], root: Path, artifacts: dict[str, str]) -> dict[str, Any]:
    for logical_id, resource in template["Resources"].items():
        key = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}.get(
            resource["Type"]
        )
        if key is None:
            continue
        uri = artifacts.get(logical_id) or f"s3://sam-artifacts/{folder_digest(root / resource['Properties'][key])}"
        resource["Properties"][key] = uri
    return template


def main() -> None:
    request = json.load(sys.stdin)
    # The transform asks boto3 for the region (AWS::Region, ARNs); it calls no AWS API.
    os.environ["AWS_DEFAULT_REGION"] = request.get("region", "us-east-1")
    path = Path(request["template"])
    template = packaged(yaml_parse(path.read_text()), path.parent, request.get("artifacts", {}))
    result = transform(template, request.get("parameters", {}), NoManagedPolicies())
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
