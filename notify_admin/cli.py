"""Admin command: API keys and event definitions of a deployed stack or of the local stack.

    python -m notify_admin --stack-name idempotent-notify create-key --workspace ACME000001
    python -m notify_admin --stack-name idempotent-notify revoke-key --key <api key>
    python -m notify_admin --stack-name idempotent-notify load-definitions events.yaml --workspace ACME000001
    python -m notify_admin --stack-name idempotent-notify set-idempotency-mode --workspace ACME000001 --mode strict
    python -m notify_admin --endpoint-url http://127.0.0.1:5000 create-key --workspace WSLOCAL0001
    python -m notify_admin --stack-name idempotent-notify dead-letters
    python -m notify_admin --stack-name idempotent-notify redrive [--max 10]
    python -m notify_admin --stack-name idempotent-notify redrive-notifications --request-id <id> [--msg-id <id>]
    python -m notify_admin --stack-name idempotent-notify set-slack-token --workspace ACME000001 < token.txt
    python -m notify_admin --stack-name idempotent-notify migrate-provider-secrets
    python -m notify_admin --stack-name idempotent-notify profiles list --workspace ACME000001 [--version test]
    python -m notify_admin --stack-name idempotent-notify profiles show --workspace ACME000001 --distinct-id user-1
    python -m notify_admin --stack-name idempotent-notify profiles delete --workspace ACME000001 --distinct-id user-1
    python -m notify_admin --stack-name idempotent-notify doctor [--sender-email me@example.org]
    python -m notify_admin --stack-name idempotent-notify add-callback-url --workspace ACME000001 --name crm \
        --url https://crm.example.com/fyno [--default]
    python -m notify_admin --stack-name idempotent-notify list-callback-urls --workspace ACME000001
    python -m notify_admin --stack-name idempotent-notify remove-callback-url --workspace ACME000001 --name crm
    python -m notify_admin --endpoint-url http://127.0.0.1:5000 play-ses-event --workspace WSLOCAL0001 \
        --request-id <id> --msg-id <id> --event hard-bounce

Table and queue names come from the stack's outputs (CloudFormation DescribeStacks), or from --api-keys-table /
--definitions-table / --queue-url / --dlq-url. With --endpoint-url and no stack, the local stack's names (the
template's logical ids).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ValidationError

from notify.caches import reset
from notify.dal.api_keys import hash_api_key, put_api_key, revoke_api_key
from notify.dal.callbacks import (
    delete_endpoint,
    delete_signing_secret,
    list_endpoints,
    new_signing_secret,
    put_endpoint,
    put_signing_secret,
)
from notify.dal.clients import client
from notify.dal.dead_letters import RedriveIncomplete, list_dead_letters, redrive_dead_letters
from notify.dal.definitions import put_automation, put_event_definition, put_idempotency_settings
from notify.dal.delivery_log import get_stored_message
from notify.dal.provider_secrets import migrate_legacy_provider_settings, put_provider_settings
from notify.logic.providers.errors import DeliveryError
from notify.logic.providers.webhooks import system_resolver
from notify.logic.redrive import RedriveTargets, RequestUnknown, redrive_notifications
from notify.logic.reports import check_callback_url
from notify.models.callbacks import Callback, CallbackEndpoint
from notify.models.definitions import ApiKeyRecord, AutomationDefinition, EventDefinition, IdempotencySettings
from notify.models.delivery import ProviderSettings
from notify.observability import mask_destination
from notify_admin.doctor import OK, Target, diagnose
from notify_admin.ses_events import KINDS, ses_event_json

ModelT = TypeVar("ModelT", bound=BaseModel)
API_KEY_PREFIX = "nfy_"
WORKSPACE_ID = re.compile(r"^[A-Za-z0-9]{10,20}$")
LOCAL_TABLES = {"ApiKeysTableName": "ApiKeysTable", "DefinitionsTableName": "DefinitionsTable"}
LOCAL_DEFINITIONS_TABLE = LOCAL_TABLES["DefinitionsTableName"]
LOCAL_QUEUES = {"NotificationQueueUrl": "NotificationQueue", "NotificationDLQUrl": "NotificationDLQ"}


class AdminError(Exception):
    """A problem the operator can fix; printed without a stack trace."""


@dataclass(frozen=True)
class Tables:
    api_keys: str
    definitions: str


def stack_outputs(stack_name: str) -> dict[str, str]:
    try:
        stacks = client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise AdminError(f"cannot read stack {stack_name!r}: {exc.response['Error'].get('Message', exc)}") from exc
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def resolve_tables(args: argparse.Namespace) -> Tables:
    outputs: dict[str, str] = {}
    if args.stack_name:
        outputs = stack_outputs(args.stack_name)
    elif args.endpoint_url:
        outputs = dict(LOCAL_TABLES)
    api_keys = args.api_keys_table or outputs.get("ApiKeysTableName")
    definitions = args.definitions_table or outputs.get("DefinitionsTableName")
    if not api_keys or not definitions:
        raise AdminError("name a stack (--stack-name), an endpoint (--endpoint-url) or both tables")
    return Tables(api_keys=api_keys, definitions=definitions)


@dataclass(frozen=True)
class Queues:
    notifications: str  # URL
    dead_letters: str  # URL


def resolve_queues(args: argparse.Namespace) -> Queues:
    """The notification queue and its dead-letter queue, as the stack outputs (or the flags) name them."""
    outputs: dict[str, str] = {}
    if args.stack_name:
        outputs = stack_outputs(args.stack_name)
    elif args.endpoint_url:
        # The local stack names its queues by logical id; their URLs depend on its endpoint.
        sqs = client("sqs")
        outputs = {output: sqs.get_queue_url(QueueName=name)["QueueUrl"] for output, name in LOCAL_QUEUES.items()}
    notifications = args.queue_url or outputs.get("NotificationQueueUrl")
    dead_letters = args.dlq_url or outputs.get("NotificationDLQUrl")
    if not notifications or not dead_letters:
        raise AdminError("name a stack (--stack-name), an endpoint (--endpoint-url) or both queues")
    return Queues(notifications=notifications, dead_letters=dead_letters)


def describe_dead_letter(body: str) -> str:
    """One line per dead letter: its ids and where it was going, the address masked as in the logs."""
    try:
        message = json.loads(body)
        return (
            f"msg_id={message['msg_id']} request_id={message['request_id']} workspace={message['workspace']} "
            f"version={message['version']} event={message['event']} channel={message['channel']} "
            f"destination={mask_destination(str(message['destination']))}"
        )
    except (ValueError, KeyError, TypeError):
        return "not a notification message (the sender can never deliver it; delete it from the queue)"


def require_workspace(workspace: str) -> str:
    if not WORKSPACE_ID.match(workspace):
        raise AdminError(f"workspace id must be 10-20 letters or digits, got {workspace!r}")
    return workspace


def create_key(tables: Tables, workspace: str) -> tuple[str, str]:
    """Create a key for `workspace`; returns (key, its hash). The key itself is never stored."""
    # A fixed prefix: a key never starts with '-' (which argparse takes for an option), and secret scanners
    # can recognise one in a leaked file.
    api_key = f"{API_KEY_PREFIX}{secrets.token_urlsafe(32)}"
    key_hash = hash_api_key(api_key)
    record = ApiKeyRecord(key_hash=key_hash, workspace=workspace, created_at=datetime.now(UTC).isoformat())
    put_api_key(record, table=tables.api_keys)
    return api_key, key_hash


@dataclass(frozen=True)
class Definitions:
    events: list[EventDefinition]
    automations: list[AutomationDefinition]


def read_definitions(path: Path) -> Definitions:
    """Definitions from a JSON or YAML file: a list of events, or {"events": [...], "automations": [...]}."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise AdminError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml  # only the operator's machine needs PyYAML

            document: Any = yaml.safe_load(text)
        else:
            document = json.loads(text)
    except ValueError as exc:  # JSONDecodeError and yaml.YAMLError's parse errors
        raise AdminError(f"{path} is not valid {path.suffix.lstrip('.').upper() or 'JSON'}: {exc}") from exc
    except Exception as exc:
        raise AdminError(f"{path} could not be parsed: {exc}") from exc
    events = document.get("events", []) if isinstance(document, dict) else document
    automations = document.get("automations", []) if isinstance(document, dict) else []
    if not isinstance(events, list) or not isinstance(automations, list) or not (events or automations):
        raise AdminError(f'{path} must hold a non-empty list of events, or {{"events": [...], "automations": [...]}}')
    return Definitions(
        events=[_validated(path, "event definition", EventDefinition, i, item) for i, item in enumerate(events)],
        automations=[
            _validated(path, "automation", AutomationDefinition, i, item) for i, item in enumerate(automations)
        ],
    )


def _validated(path: Path, what: str, model: type[ModelT], index: int, item: Any) -> ModelT:
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in (index, *first["loc"]) if part != "[key]")
        raise AdminError(f"{path}: invalid {what} at {where}: {first['msg']}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m notify_admin", description=__doc__.split("\n")[0])
    parser.add_argument("--stack-name", help="stack whose outputs name the tables")
    parser.add_argument("--endpoint-url", help="AWS endpoint, e.g. the local stack's http://127.0.0.1:5000")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    parser.add_argument("--api-keys-table")
    parser.add_argument("--definitions-table")
    parser.add_argument("--queue-url", help="the notification queue (redrive's destination)")
    parser.add_argument("--dlq-url", help="the dead-letter queue")
    commands = parser.add_subparsers(dest="command", required=True)

    create = commands.add_parser("create-key", help="create an API key for a workspace (printed once)")
    create.add_argument("--workspace", required=True)

    revoke = commands.add_parser("revoke-key", help="revoke an API key (stops working within 60 s)")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--key", help="the API key itself")
    which.add_argument("--key-hash", help="the key's SHA-256, as printed by create-key")

    load = commands.add_parser("load-definitions", help="load events and automations from a JSON or YAML file")
    load.add_argument("file", type=Path)
    load.add_argument("--workspace", required=True)

    mode = commands.add_parser(
        "set-idempotency-mode",
        help="strict: a key reused with a different body is a 422; replay (the default): it replays (M1)",
    )
    mode.add_argument("--workspace", required=True)
    mode.add_argument("--mode", required=True, choices=["replay", "strict"])

    listing = commands.add_parser("dead-letters", help="list the dead-letter queue's messages, moving none")
    listing.add_argument("--max", type=int, default=100, help="at most this many (default 100)")

    redrive = commands.add_parser(
        "redrive", help="move dead letters back to the notification queue (a msg_id already sent is not resent)"
    )
    redrive.add_argument("--max", type=int, help="at most this many (default: all)")
    add_redrive_notifications_parser(commands)
    add_provider_secrets_parser(commands)
    add_profiles_parser(commands)
    add_doctor_parser(commands)
    add_callback_parsers(commands)
    add_play_ses_event_parser(commands)
    return parser


# play-ses-event: the local stack has no SES to report deliveries, bounces and complaints; this publishes what SES
# would to the provider-events topic, which the local stack's emulated SNS event source hands to the function. ------


def add_play_ses_event_parser(commands: Any) -> None:
    play = commands.add_parser(
        "play-ses-event", help="local stack only: publish an SES delivery, bounce or complaint event for a notification"
    )
    play.add_argument("--workspace", required=True)
    play.add_argument("--request-id", required=True)
    play.add_argument("--msg-id", required=True)
    play.add_argument("--event", required=True, choices=KINDS)


def run_play_ses_event(args: argparse.Namespace) -> int:
    if args.stack_name or not args.endpoint_url:
        raise AdminError("play-ses-event plays events on the local stack only (--endpoint-url, no --stack-name)")
    found = get_stored_message(args.request_id, args.msg_id, table=LOCAL_DELIVERY_LOG_TABLE)
    if found is None or found[1] is None:
        raise AdminError(f"no notification {args.msg_id} of request {args.request_id} was sent here")
    message = json.loads(found[1])
    event = ses_event_json(
        args.event,
        address=message["destination"],
        msg_id=args.msg_id,
        request_id=args.request_id,
        workspace=require_workspace(args.workspace),
        ses_message_id=found[0].provider_message_id,
    )
    sns = client("sns")
    [topic] = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":" + LOCAL_EVENTS_TOPIC)]
    sns.publish(TopicArn=topic, Message=event)
    print(f"published an SES {args.event} event for {args.msg_id}; the status route shows it in a moment")
    return 0


# Delivery report endpoints (docs/api.md, "Delivery reports"): the list in DefinitionsTable (`callback#<name>`, read
# by the APIs to check allowlist_urls), each signing secret an SSM SecureString only the reporter reads. ----------

LOCAL_CALLBACK_SECRETS_PATH = "/local/callbacks"
resolve_host = system_resolver  # the DNS lookup of the SSRF guard (tests answer it on loopback)


def add_callback_parsers(commands: Any) -> None:
    add = commands.add_parser(
        "add-callback-url", help="allowlist a delivery report endpoint (prints its signing secret, once)"
    )
    add.add_argument("--workspace", required=True)
    add.add_argument("--name", required=True, help="what a request's callback.allowlist_urls calls it")
    add.add_argument("--url", required=True, help="https, on a public address")
    add.add_argument("--default", action="store_true", help="where reports go when a callback names no endpoint")
    listing = commands.add_parser("list-callback-urls", help="list a workspace's delivery report endpoints")
    listing.add_argument("--workspace", required=True)
    remove = commands.add_parser("remove-callback-url", help="remove a delivery report endpoint and its secret")
    remove.add_argument("--workspace", required=True)
    remove.add_argument("--name", required=True)
    for command in (add, remove):
        command.add_argument("--callback-secrets-path", help="SSM path of the signing secrets (the stack's output)")


def run_callback_urls(args: argparse.Namespace, tables: Tables) -> int:
    workspace = require_workspace(args.workspace)
    if args.command == "list-callback-urls":
        endpoints = list_endpoints(workspace, table=tables.definitions)
        for endpoint in sorted(endpoints, key=lambda e: e.name):
            marker = "\t(default)" if endpoint.default else ""
            print(f"{endpoint.name}\t{endpoint.url}{marker}")
        print(f"{len(endpoints)} endpoint(s)")
        return 0
    path = _resource_name(
        args, args.callback_secrets_path, "CallbackSecretsPath", LOCAL_CALLBACK_SECRETS_PATH, "--callback-secrets-path"
    )
    if args.command == "remove-callback-url":
        if not delete_endpoint(workspace, args.name, table=tables.definitions):
            raise AdminError(f"{workspace} has no endpoint named {args.name!r}")
        delete_signing_secret(workspace, args.name, path=path)
        print(f"removed {args.name}; reports naming it are no longer accepted (400) nor sent")
        return 0
    try:
        endpoint = CallbackEndpoint(name=args.name, url=args.url, default=args.default)
        Callback(allowlist_urls=[args.name])  # the name rules a request's callback checks
        # Checked as every report is (the webhook channels' SSRF guard); the local stack alone allows 127.0.0.1.
        check_callback_url(
            args.url, allow_loopback=bool(args.endpoint_url and not args.stack_name), resolver=resolve_host
        )
    except ValidationError as exc:
        raise AdminError(f"--name: {exc.errors()[0]['msg']}") from None
    except DeliveryError as exc:
        raise AdminError(f"--url: {exc.reason}") from None
    existing = list_endpoints(workspace, table=tables.definitions)
    if args.default:
        for other in existing:
            if other.default and other.name != args.name:
                put_endpoint(workspace, other.model_copy(update={"default": False}), table=tables.definitions)
    secret = new_signing_secret()
    # The secret first: an endpoint the APIs accept always has one for the reporter to sign with.
    put_signing_secret(workspace, args.name, secret, path=path)
    put_endpoint(workspace, endpoint, table=tables.definitions)
    print(f"endpoint {args.name} of {workspace}: {args.url}{' (default)' if args.default else ''}")
    print(f"signing secret: {secret}")
    print("The secret is shown only now; verify each report's webhook-signature with it (Standard Webhooks).")
    return 0


# doctor: what still blocks delivery on a deployed stack; reads only (notify/doctor.py) -----------------------

LOCAL_SENDER_EMAIL = "notifications@example.com"  # the template's default, which `make run` verifies in moto


def add_doctor_parser(commands: Any) -> None:
    doctor = commands.add_parser(
        "doctor", help="say what still blocks delivery: SES identity and sandbox, SMS sandbox, alarms, Slack tokens"
    )
    doctor.add_argument("--sender-email", help="the sender address (default: the stack's SenderEmail parameter)")
    doctor.add_argument("--provider-secrets-path", help="SSM path of provider secrets (the stack's output)")


def doctor_target(args: argparse.Namespace) -> Target:
    outputs: dict[str, str] = {}
    parameters: dict[str, str] = {}
    if args.stack_name:
        try:
            stack = client("cloudformation").describe_stacks(StackName=args.stack_name)["Stacks"][0]
        except ClientError as exc:
            message = exc.response["Error"].get("Message", exc)
            raise AdminError(f"cannot read stack {args.stack_name!r}: {message}") from exc
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    elif args.endpoint_url:
        outputs = {"DefinitionsTableName": LOCAL_DEFINITIONS_TABLE, "ProviderSecretsPath": LOCAL_PROVIDER_SECRETS_PATH}
        parameters = {"SenderEmail": LOCAL_SENDER_EMAIL}
    else:
        raise AdminError("name a stack (--stack-name) or an endpoint (--endpoint-url)")
    return Target(
        sender_email=args.sender_email or parameters.get("SenderEmail"),
        alarm_topic_arn=outputs.get("AlarmTopicArn"),
        definitions_table=args.definitions_table or outputs.get("DefinitionsTableName"),
        provider_secrets_path=args.provider_secrets_path or outputs.get("ProviderSecretsPath"),
    )


def run_doctor(args: argparse.Namespace) -> int:
    """One line per finding; exit 0 when nothing blocks delivery, 3 when something does or is unknown."""
    findings = diagnose(doctor_target(args))
    for finding in findings:
        print(finding.line())
    open_ = [f for f in findings if f.status != OK]
    if open_:
        print(f"{len(open_)} thing(s) to fix or check before notifications are delivered (docs/deploy.md)")
        return 3
    print("nothing blocks delivery")
    return 0


# profiles list / show / delete: a workspace's profiles (docs/contract.md section 6) ----------------------------

LOCAL_PROFILES_TABLE = "ProfilesTable"
LOCAL_DELIVERY_LOG_TABLE = "DeliveryLogTable"
LOCAL_EVENTS_TOPIC = "ProviderEventsTopic"


def add_profiles_parser(commands: Any) -> None:
    profiles = commands.add_parser("profiles", help="list, show or delete a workspace's profiles")
    actions = profiles.add_subparsers(dest="profiles_command", required=True)
    for name, help_text in (
        ("list", "list the profiles of a workspace's version, destinations masked"),
        ("show", "print one profile as the Profiles API answers it"),
        ("delete", "delete profiles (repeat --distinct-id)"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("--workspace", required=True)
        action.add_argument("--version", choices=("live", "test"), default="live")
        action.add_argument("--profiles-table", help="the profiles table (the stack's output ProfilesTableName)")
        if name == "show":
            action.add_argument("--distinct-id", required=True)
        elif name == "delete":
            action.add_argument("--distinct-id", required=True, action="append")


def _resource_name(args: argparse.Namespace, given: str | None, output: str, local: str, option: str) -> str:
    """`given` (its --option), else the stack's Output `output`, else the local stack's name `local`."""
    name = given
    if name is None and args.stack_name:
        name = stack_outputs(args.stack_name).get(output)
    elif name is None and args.endpoint_url:
        name = local
    if not name:
        raise AdminError(f"name a stack (--stack-name), an endpoint (--endpoint-url) or {option}")
    return str(name)


def resolve_profiles_table(args: argparse.Namespace) -> str:
    return _resource_name(args, args.profiles_table, "ProfilesTableName", LOCAL_PROFILES_TABLE, "--profiles-table")


def _masked_channels(channel: dict[str, Any]) -> str:
    shown = []
    for name, value in channel.items():
        if isinstance(value, list):
            shown.append(f"{name}={len(value)} token(s)")
        else:
            shown.append(f"{name}={mask_destination(str(value))}")
    return " ".join(shown) or "no destination"


def run_profiles(args: argparse.Namespace) -> int:
    from notify.dal.profiles import delete_profile, get_profile, list_profiles

    table = resolve_profiles_table(args)
    workspace = require_workspace(args.workspace)
    if args.profiles_command == "list":
        listed = 0
        for profile in list_profiles(workspace, args.version, table=table):
            state = "active" if profile.status else "inactive"
            print(f"{profile.distinct_id}  {state}  {_masked_channels(profile.channel.stored())}")
            listed += 1
        print(f"{listed} profile(s) in {workspace} ({args.version})")
        return 0
    if args.profiles_command == "show":
        found = get_profile(workspace, args.version, args.distinct_id, table=table)
        if found is None:
            raise AdminError(f"no profile {args.distinct_id!r} in {workspace} ({args.version})")
        print(json.dumps(found[0].body(), indent=2, ensure_ascii=False))
        return 0
    missing = [d for d in args.distinct_id if not delete_profile(workspace, args.version, d, table=table)]
    print(f"deleted {len(args.distinct_id) - len(missing)} profile(s) of {workspace} ({args.version})")
    if missing:
        raise AdminError(f"no such profile: {', '.join(missing)}")
    return 0


# redrive-notifications: send `unknown` or `failed` notifications again, on purpose (R8) -----------------

LOCAL_REDRIVE_TARGETS = {"DeliveryLogTableName": "DeliveryLogTable", "IdempotencyTableName": "IdempotencyTable"}
LOCAL_NOTIFICATION_QUEUE = "NotificationQueue"


def add_redrive_notifications_parser(commands: Any) -> None:
    redrive = commands.add_parser(
        "redrive-notifications",
        help="deliver a request's unknown or failed notifications again (never a sent one)",
    )
    redrive.add_argument("--request-id", required=True)
    redrive.add_argument("--msg-id", action="append", default=[], help="only this notification (repeatable)")
    redrive.add_argument("--channel", help="only this channel's notifications")
    redrive.add_argument("--delivery-log-table")
    redrive.add_argument("--idempotency-table")
    redrive.add_argument("--queue-url")


def resolve_redrive_targets(args: argparse.Namespace) -> RedriveTargets:
    outputs: dict[str, str] = {}
    if args.stack_name:
        outputs = stack_outputs(args.stack_name)
    elif args.endpoint_url:
        queue_url = client("sqs").get_queue_url(QueueName=LOCAL_NOTIFICATION_QUEUE)["QueueUrl"]
        outputs = {**LOCAL_REDRIVE_TARGETS, "NotificationQueueUrl": queue_url}
    delivery_log = args.delivery_log_table or outputs.get("DeliveryLogTableName")
    idempotency = args.idempotency_table or outputs.get("IdempotencyTableName")
    queue_url = args.queue_url or outputs.get("NotificationQueueUrl")
    if not delivery_log or not idempotency or not queue_url:
        raise AdminError("name a stack (--stack-name), an endpoint (--endpoint-url) or both tables and the queue URL")
    return RedriveTargets(delivery_log_table=delivery_log, idempotency_table=idempotency, queue_url=queue_url)


def run_redrive_notifications(args: argparse.Namespace) -> int:
    """Print one line per notification considered; exit 0 when every one chosen was queued again."""
    try:
        results = redrive_notifications(
            resolve_redrive_targets(args), args.request_id, msg_ids=args.msg_id, channel=args.channel
        )
    except RequestUnknown as exc:
        raise AdminError(f"no notification of request {exc} was recorded") from exc
    if not results:
        raise AdminError("no notification of the request matches --msg-id/--channel")
    for result in results:
        if result.queued:
            print(f"queued again: {result.msg_id} ({result.channel}, was {result.state})")
        else:
            print(f"refused: {result.msg_id} ({result.channel or '-'}): {result.reason}")
    return 0 if all(result.queued for result in results) else 3


# set-slack-token: a workspace's Slack bot token, as an SSM SecureString only the sender may read ----------

LOCAL_PROVIDER_SECRETS_PATH = "/local/providers"


def add_provider_secrets_parser(commands: Any) -> None:
    secret = commands.add_parser("set-slack-token", help="store a workspace's Slack bot token (read from stdin)")
    secret.add_argument("--workspace", required=True)
    secret.add_argument("--provider-secrets-path", help="SSM path of provider secrets (the stack's output)")
    secret.add_argument("--delete", action="store_true", help="remove the token instead")
    migrate = commands.add_parser(
        "migrate-provider-secrets",
        help="move the Slack bot tokens earlier versions kept in DefinitionsTable into SSM, deleting them there",
    )
    migrate.add_argument("--provider-secrets-path", help="SSM path of provider secrets (the stack's output)")


def provider_secrets_path(args: argparse.Namespace) -> str:
    return _resource_name(
        args, args.provider_secrets_path, "ProviderSecretsPath", LOCAL_PROVIDER_SECRETS_PATH, "--provider-secrets-path"
    )


def run_migrate_provider_secrets(args: argparse.Namespace, tables: Tables) -> int:
    """Upgrading from a version that kept Slack bot tokens in DefinitionsTable: until this runs, the sender
    finds no token and Slack Web API sends fail as having none."""
    moved = migrate_legacy_provider_settings(tables.definitions, provider_secrets_path(args))
    print(f"moved the provider secrets of {len(moved)} workspace(s) into SSM: {', '.join(moved) or 'none found'}")
    return 0


def run_set_slack_token(args: argparse.Namespace) -> int:
    path = provider_secrets_path(args)
    workspace = require_workspace(args.workspace)
    # Read from stdin, never from the command line, which shell history and process lists keep.
    token = None if args.delete else sys.stdin.readline().strip()
    if not args.delete and not token:
        raise AdminError("give the token on standard input")
    put_provider_settings(workspace, ProviderSettings.model_validate({"slack_bot_token": token}), path=path)
    print(f"{'removed' if args.delete else 'stored'} the Slack bot token of {workspace}")
    return 0


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
        # The local stack accepts any credentials; do not make the operator invent some.
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ["AWS_DEFAULT_REGION"] = args.region or "us-east-1"
    reset()  # the endpoint and region may have changed: no client or setting from before
    try:
        if args.command in ("dead-letters", "redrive"):
            return run_dead_letters(args, resolve_queues(args))
        if args.command == "redrive-notifications":
            return run_redrive_notifications(args)
        if args.command == "set-slack-token":
            return run_set_slack_token(args)
        if args.command == "profiles":
            return run_profiles(args)
        if args.command == "doctor":
            return run_doctor(args)
        if args.command == "play-ses-event":
            return run_play_ses_event(args)
        tables = resolve_tables(args)
        if args.command in ("add-callback-url", "list-callback-urls", "remove-callback-url"):
            return run_callback_urls(args, tables)
        if args.command == "migrate-provider-secrets":
            return run_migrate_provider_secrets(args, tables)
        if args.command == "create-key":
            api_key, key_hash = create_key(tables, require_workspace(args.workspace))
            print(f"workspace: {args.workspace}")
            print(f"api key:   {api_key}")
            print(f"key hash:  {key_hash}")
            print("The key is shown only now; store it in your secrets manager.")
        elif args.command == "set-idempotency-mode":
            workspace = require_workspace(args.workspace)
            put_idempotency_settings(workspace, IdempotencySettings(mode=args.mode), table=tables.definitions)
            print(
                f"{workspace}: idempotency mode {args.mode} (running functions may keep the previous mode for up to "
                "60 s: their per-container cache)"
            )
        elif args.command == "revoke-key":
            key_hash = args.key_hash or hash_api_key(args.key)
            if not revoke_api_key(key_hash, table=tables.api_keys):
                raise AdminError("no such API key")
            print(f"revoked {key_hash} (cached copies expire within 60 s)")
        else:
            workspace = require_workspace(args.workspace)
            definitions = read_definitions(args.file)
            for event in definitions.events:
                put_event_definition(workspace, event, table=tables.definitions)
            for automation in definitions.automations:
                put_automation(workspace, automation, table=tables.definitions)
            names = ", ".join([e.name for e in definitions.events] + [a.id for a in definitions.automations])
            print(
                f"loaded {len(definitions.events)} event definition(s) and {len(definitions.automations)} "
                f"automation(s) into {workspace}: {names} (running functions may keep the previous definitions for up "
                "to 60 s: their per-container cache)"
            )
    except AdminError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as exc:
        print(f"error: AWS call failed: {exc}", file=sys.stderr)
        return 1
    return 0


def run_dead_letters(args: argparse.Namespace, queues: Queues) -> int:
    if args.max is not None and args.max < 1:
        raise AdminError("--max must be at least 1")
    if args.command == "dead-letters":
        letters = list_dead_letters(queues.dead_letters, args.max)
        for letter in letters:
            sent = datetime.fromtimestamp(letter.first_sent_ms / 1000, UTC).isoformat(timespec="seconds")
            what = describe_dead_letter(letter.body)
            print(f"{letter.message_id} received {letter.receive_count}x, queued {sent}: {what}")
        print(f"{len(letters)} dead letter(s) listed; none moved")
        return 0
    try:
        moved = redrive_dead_letters(queues.dead_letters, queues.notifications, args.max)
    except RedriveIncomplete as exc:
        raise AdminError(str(exc)) from exc
    print(f"moved {moved} message(s) back to the notification queue; the sender delivers each msg_id at most once")
    return 0


if __name__ == "__main__":
    sys.exit(run())
