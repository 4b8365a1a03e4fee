"""A workspace's report endpoints: DefinitionsTable items `callback#<name>` (no secret: the API functions read this
table to check `allowlist_urls`), and each endpoint's signing secret, an SSM SecureString only the reporter reads
(`<callback secrets path>/<workspace>/<name>`)."""

from __future__ import annotations

import base64
import contextlib
import json
import secrets

from notify.dal.clients import client
from notify.models.callbacks import CallbackEndpoint
from notify.settings import get_settings

ENDPOINT_PREFIX = "callback#"
SECRET_PREFIX = "whsec_"  # noqa: S105  # nosec B105  # Standard Webhooks' prefix, not a secret
SECRET_BYTES = 32


def list_endpoints(workspace: str, table: str | None = None) -> list[CallbackEndpoint]:
    """Every endpoint of the workspace, by name."""
    ddb = client("dynamodb")
    arguments = {
        "TableName": table or get_settings().definitions_table,
        "KeyConditionExpression": "workspace = :w AND begins_with(definition_id, :p)",
        "ExpressionAttributeValues": {":w": {"S": workspace}, ":p": {"S": ENDPOINT_PREFIX}},
    }
    endpoints = []
    while True:
        page = ddb.query(**arguments)
        endpoints += [CallbackEndpoint.model_validate_json(item["body"]["S"]) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return endpoints
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def put_endpoint(workspace: str, endpoint: CallbackEndpoint, table: str | None = None) -> None:
    client("dynamodb").put_item(
        TableName=table or get_settings().definitions_table,
        Item={
            "workspace": {"S": workspace},
            "definition_id": {"S": ENDPOINT_PREFIX + endpoint.name},
            "body": {"S": json.dumps(endpoint.model_dump(mode="json"))},
        },
    )


def delete_endpoint(workspace: str, name: str, table: str | None = None) -> bool:
    """Remove the endpoint; False when there was none of that name."""
    response = client("dynamodb").delete_item(
        TableName=table or get_settings().definitions_table,
        Key={"workspace": {"S": workspace}, "definition_id": {"S": ENDPOINT_PREFIX + name}},
        ReturnValues="ALL_OLD",
    )
    return "Attributes" in response


def _secret_name(workspace: str, name: str, path: str | None) -> str:
    return f"{(path or get_settings().callback_secrets_path).rstrip('/')}/{workspace}/{name}"


def new_signing_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def put_signing_secret(workspace: str, name: str, secret: str, path: str | None = None) -> None:
    client("ssm").put_parameter(
        Name=_secret_name(workspace, name, path),
        Value=secret,
        Type="SecureString",
        Overwrite=True,
        Description="Signing secret of one delivery report endpoint (Standard Webhooks)",
    )


def delete_signing_secret(workspace: str, name: str, path: str | None = None) -> None:
    ssm = client("ssm")
    with contextlib.suppress(ssm.exceptions.ParameterNotFound):
        ssm.delete_parameter(Name=_secret_name(workspace, name, path))


def get_signing_secret(workspace: str, name: str, path: str | None = None) -> str | None:
    """The endpoint's secret; None when it has none (removed since the report was queued)."""
    ssm = client("ssm")
    try:
        parameter = ssm.get_parameter(Name=_secret_name(workspace, name, path), WithDecryption=True)
    except ssm.exceptions.ParameterNotFound:
        return None
    return str(parameter["Parameter"]["Value"])
