"""Definitions table: per workspace, events ("event#<name>") and automations ("automation#<id>").

No secret lives here (the API functions read this table): provider secrets are in dal/provider_secrets.py.
"""

from __future__ import annotations

import json

from notify.dal.clients import client
from notify.models.definitions import AutomationDefinition, EventDefinition
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
