"""Demo data of docs/contract.md section 5: two workspaces with known keys, the demo events and automation."""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from notify.dal.api_keys import hash_api_key, put_api_key
from notify.dal.definitions import put_automation, put_event_definition
from notify.dal.profiles import ProfileExists, create_profile
from notify.models.definitions import ApiKeyRecord, AutomationDefinition, EventDefinition
from notify.models.profiles import Profile, ProfileChannels
from notify.timestamps import iso_utc


@dataclass(frozen=True)
class DemoWorkspace:
    workspace: str
    api_key: str


def demo_workspaces() -> list[DemoWorkspace]:
    """The two seeded workspaces, overridable by LOCAL_WORKSPACE_n / LOCAL_API_KEY_n."""
    return [
        DemoWorkspace(
            os.environ.get("LOCAL_WORKSPACE_1", "WSLOCAL0001"),
            os.environ.get("LOCAL_API_KEY_1", "local-key-0001-aaaaaaaaaaaaaaaaaaaa"),
        ),
        DemoWorkspace(
            os.environ.get("LOCAL_WORKSPACE_2", "WSLOCAL0002"),
            os.environ.get("LOCAL_API_KEY_2", "local-key-0002-bbbbbbbbbbbbbbbbbbbb"),
        ),
    ]


DEMO_EVENTS = [
    EventDefinition.model_validate(
        {
            "name": "Welcome_Email",
            "channels": {
                "email": {
                    "subject": "Welcome {{ name }}",
                    "body": "Hi {{ name }}, welcome aboard.",
                    # An HTML part too (autoescaped), so the outbox page shows both parts of the demo email.
                    "html": "<h1>Welcome, {{ name }}</h1><p>Hi {{ name }}, <b>welcome aboard</b>.</p>",
                },
            },
        }
    ),
    EventDefinition.model_validate(
        {
            "name": "OrderConfirmed",
            "channels": {
                "email": {
                    "subject": "Order {{ order_id }} confirmed",
                    "body": "Thanks {{ name }}, your order {{ order_id }} of {{ amount }} is confirmed.",
                },
                "sms": {"body": "Order {{ order_id }} confirmed: {{ amount }}"},
            },
        }
    ),
]


# docs/contract.md section 5: step 1 welcomes the payload's `email` at once; step 2 confirms the order after a delay.
DEMO_AUTOMATIONS = [
    AutomationDefinition.model_validate(
        {
            "id": "onboarding",
            "steps": [
                {"event": "Welcome_Email", "to": {"email": "email"}, "data": "{name: name}", "delay_seconds": 0},
                {
                    "event": "OrderConfirmed",
                    "to": {"email": "email", "sms": "phone"},
                    "data": "{name: name, order_id: order.id, amount: order.amount}",
                    "delay_seconds": 60,
                },
            ],
        }
    ),
]


# docs/contract.md section 6: one profile per workspace, so `make run`'s banner can send by distinct_id.
DEMO_DISTINCT_ID = "demo-user-0001"
DEMO_PROFILE_EMAIL = "rahul.profile@example.com"


def demo_profile(created_at: str) -> Profile:
    return Profile(
        distinct_id=DEMO_DISTINCT_ID,
        name="Rahul",
        channel=ProfileChannels(email=DEMO_PROFILE_EMAIL, sms="+14155550100"),
        created_at=created_at,
        updated_at=created_at,
        version="live",
    )


def seed_demo_data(
    api_keys_table: str, definitions_table: str, profiles_table: str | None = None
) -> list[DemoWorkspace]:
    """Store the demo keys (hashed) and events in both workspaces, and with `profiles_table` a demo profile in
    each; idempotent, so restarts are harmless."""
    workspaces = demo_workspaces()
    created_at = datetime.now(UTC).isoformat()
    for demo in workspaces:
        put_api_key(
            ApiKeyRecord(key_hash=hash_api_key(demo.api_key), workspace=demo.workspace, created_at=created_at),
            table=api_keys_table,
        )
        for definition in DEMO_EVENTS:
            put_event_definition(demo.workspace, definition, table=definitions_table)
        for automation in DEMO_AUTOMATIONS:
            put_automation(demo.workspace, automation, table=definitions_table)
        if profiles_table is not None:
            with contextlib.suppress(ProfileExists):  # seeded by an earlier start
                # Timestamps as the Profiles API writes them (ISO-8601 UTC, milliseconds, Z).
                create_profile(demo.workspace, demo_profile(iso_utc()), table=profiles_table)
    return workspaces


def seed_handler(event: dict[str, str], context: Any) -> list[dict[str, str]]:
    """Entry point of `python -m local`'s seeding worker, which has the shared layer on its path."""
    workspaces = seed_demo_data(event["api_keys_table"], event["definitions_table"], event.get("profiles_table"))
    # With a profiles table, the banner also prints a curl sending to the demo profile by distinct_id.
    extra = {"distinct_id": DEMO_DISTINCT_ID} if event.get("profiles_table") else {}
    return [{**asdict(workspace), **extra} for workspace in workspaces]
