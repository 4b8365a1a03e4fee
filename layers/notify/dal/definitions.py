"""Definitions table: per workspace, events ("event#<name>"), automations ("automation#<id>") and the workspace's
idempotency settings ("settings#idempotency", M1).

No secret lives here (the API functions read this table): provider secrets are in dal/provider_secrets.py.
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel

from notify.dal.clients import client
from notify.models.definitions import AutomationDefinition, EventDefinition, IdempotencySettings
from notify.settings import get_settings

ModelT = TypeVar("ModelT", bound=BaseModel)


def _get(workspace: str, definition_id: str, model: type[ModelT], table: str | None) -> ModelT | None:
    response = client("dynamodb").get_item(
        TableName=table or get_settings().definitions_table,
        Key={"workspace": {"S": workspace}, "definition_id": {"S": definition_id}},
    )
    item = response.get("Item")
    return model.model_validate_json(item["body"]["S"]) if item else None


def _put(workspace: str, definition_id: str, definition: BaseModel, table: str | None) -> None:
    client("dynamodb").put_item(
        TableName=table or get_settings().definitions_table,
        Item={
            "workspace": {"S": workspace},
            "definition_id": {"S": definition_id},
            "body": {"S": json.dumps(definition.model_dump(mode="json", exclude_none=True))},
        },
    )


def get_event_definition(workspace: str, name: str, table: str | None = None) -> EventDefinition | None:
    return _get(workspace, f"event#{name}", EventDefinition, table)


def put_event_definition(workspace: str, definition: EventDefinition, table: str | None = None) -> None:
    _put(workspace, f"event#{definition.name}", definition, table)


def get_automation(workspace: str, automation_id: str, table: str | None = None) -> AutomationDefinition | None:
    return _get(workspace, f"automation#{automation_id}", AutomationDefinition, table)


def put_automation(workspace: str, automation: AutomationDefinition, table: str | None = None) -> None:
    _put(workspace, f"automation#{automation.id}", automation, table)


IDEMPOTENCY_SETTINGS_ID = "settings#idempotency"


def get_idempotency_settings(workspace: str, _: str = "", table: str | None = None) -> IdempotencySettings | None:
    """The workspace's idempotency settings (M1); None where they were never set (the default, replay)."""
    return _get(workspace, IDEMPOTENCY_SETTINGS_ID, IdempotencySettings, table)


def put_idempotency_settings(workspace: str, settings: IdempotencySettings, table: str | None = None) -> None:
    _put(workspace, IDEMPOTENCY_SETTINGS_ID, settings, table)
