"""Provider secrets (a workspace's Slack bot token): SSM Parameter Store SecureStrings, one path per workspace.

Only the sender may read them and only the admin command writes them (template.yaml): the API functions,
which read DefinitionsTable, never see a provider secret.
"""

from __future__ import annotations

import contextlib
from typing import Any

from notify.dal.clients import client
from notify.models.delivery import ProviderSettings
from notify.settings import get_settings

SLACK_BOT_TOKEN = "slack-bot-token"  # noqa: S105  # nosec B105  # a parameter name, not a secret


def secret_name(workspace: str, secret: str, path: str | None = None) -> str:
    """`<path>/<workspace>/<secret>`: the sender's policy covers `<path>/*`."""
    return f"{(path or get_settings().provider_secrets_path).rstrip('/')}/{workspace}/{secret}"


def get_provider_settings(workspace: str, path: str | None = None) -> ProviderSettings:
    """The workspace's provider settings; empty settings when none are stored."""
    ssm = client("ssm")
    try:
        parameter = ssm.get_parameter(Name=secret_name(workspace, SLACK_BOT_TOKEN, path), WithDecryption=True)
    except ssm.exceptions.ParameterNotFound:
        return ProviderSettings()
    return ProviderSettings.model_validate({"slack_bot_token": parameter["Parameter"]["Value"]})


def put_provider_settings(workspace: str, settings: ProviderSettings, path: str | None = None) -> None:
    """Store (or, when unset, delete) the workspace's provider secrets as SecureStrings."""
    ssm = client("ssm")
    name = secret_name(workspace, SLACK_BOT_TOKEN, path)
    if settings.slack_bot_token is None:
        with contextlib.suppress(ssm.exceptions.ParameterNotFound):
            ssm.delete_parameter(Name=name)
        return
    ssm.put_parameter(
        Name=name,
        Value=settings.slack_bot_token.get_secret_value(),
        Type="SecureString",
        Overwrite=True,
        Description="Slack bot token of one workspace (chat.postMessage, users.lookupByEmail)",
    )


# Where versions before the SSM secrets kept provider settings: one DefinitionsTable item per workspace.
LEGACY_PROVIDER_SETTINGS_ID = "settings#providers"


def migrate_legacy_provider_settings(definitions_table: str, path: str) -> list[str]:
    """Move every workspace's legacy settings item into SSM (a SecureString), then delete the item;
    returns the workspaces moved. Run again, it finds nothing more."""
    ddb = client("dynamodb")
    moved = []
    arguments: dict[str, Any] = {
        "TableName": definitions_table,
        "FilterExpression": "definition_id = :id",
        "ExpressionAttributeValues": {":id": {"S": LEGACY_PROVIDER_SETTINGS_ID}},
    }
    while True:
        page = ddb.scan(**arguments)
        for item in page["Items"]:
            workspace = item["workspace"]["S"]
            put_provider_settings(workspace, ProviderSettings.model_validate_json(item["body"]["S"]), path=path)
            ddb.delete_item(
                TableName=definitions_table,
                Key={"workspace": item["workspace"], "definition_id": item["definition_id"]},
            )
            moved.append(workspace)
        if "LastEvaluatedKey" not in page:
            return moved
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
