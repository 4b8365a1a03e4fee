"""Definitions table: per workspace, events ("event#<name>"), automations ("automation#<id>") and provider settings."""

from __future__ import annotations

import json

from notify.dal.clients import client
from notify.models.definitions import AutomationDefinition, EventDefinition
from notify.models.delivery import ProviderSettings
from notify.settings import get_settings


def _event_id(name: str) -> str:
    return f"event#{name}"


def get_event_definition(workspace: str, name: str, table: str | None = None) -> EventDefinition | None:
    response = client("dynamodb").get_item(
        TableName=table or get_settings().definitions_table,
        Key={"workspace": {"S": workspace}, "definition_id": {"S": _event_id(name)}},
    )
    item = response.get("Item")
    if not item:
        return None
    return EventDefinition.model_validate_json(item["body"]["S"])


def put_event_definition(workspace: str, definition: EventDefinition, table: str | None = None) -> None:
    client("dynamodb").put_item(
        TableName=table or get_settings().definitions_table,
        Item={
            "workspace": {"S": workspace},
            "definition_id": {"S": _event_id(definition.name)},
            "body": {"S": json.dumps(definition.model_dump(mode="json", exclude_none=True))},
        },
    )


def get_automation(workspace: str, automation_id: str, table: str | None = None) -> AutomationDefinition | None:
    response = client("dynamodb").get_item(
        TableName=table or get_settings().definitions_table,
        Key={"workspace": {"S": workspace}, "definition_id": {"S": f"automation#{automation_id}"}},
    )
    item = response.get("Item")
    if not item:
        return None
    return AutomationDefinition.model_validate_json(item["body"]["S"])


def put_automation(workspace: str, automation: AutomationDefinition, table: str | None = None) -> None:
    client("dynamodb").put_item(
        TableName=table or get_settings().definitions_table,
        Item={
            "workspace": {"S": workspace},
            "definition_id": {"S": f"automation#{automation.id}"},
            "body": {"S": json.dumps(automation.model_dump(mode="json", exclude_none=True))},
        },
    )


PROVIDER_SETTINGS_ID = "settings#providers"


def get_provider_settings(workspace: str, table: str | None = None) -> ProviderSettings:
    """The workspace's provider settings (e.g. its Slack bot token); empty settings when none are stored."""
    response = client("dynamodb").get_item(
        TableName=table or get_settings().definitions_table,
        Key={"workspace": {"S": workspace}, "definition_id": {"S": PROVIDER_SETTINGS_ID}},
    )
    item = response.get("Item")
    if not item:
        return ProviderSettings()
    return ProviderSettings.model_validate_json(item["body"]["S"])


def put_provider_settings(workspace: str, settings: ProviderSettings, table: str | None = None) -> None:
    body = {"slack_bot_token": settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None}
    client("dynamodb").put_item(
        TableName=table or get_settings().definitions_table,
        Item={
            "workspace": {"S": workspace},
            "definition_id": {"S": PROVIDER_SETTINGS_ID},
            "body": {"S": json.dumps({k: v for k, v in body.items() if v is not None})},
        },
    )
