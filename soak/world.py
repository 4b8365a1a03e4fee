"""One worker's world: the in-process stack of tests/support (moto, template.yaml's resources, warm handlers),
kept for every scenario the worker plays, its frozen clock, and two observers of the product:

- ProviderLedger: how many times each msg_id reached a provider (moto's SES and SNS counted around each
  delivery), and which msg_ids had an ambiguous provider outcome;
- DynamoDBLimits: every write of the product's DynamoDB client measured as DynamoDB measures it (item 400 KB,
  transaction 100 items and 4 MB, partition key 2048 bytes, sort key 1024).

Scenarios share the stack but not their data: each gets a workspace of its own (API key, definitions, a
profile), so nothing has to be reset between scenarios except what moto's providers accepted.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import botocore.handlers
import pytest
from botocore.retries.standard import ExponentialBackoff
from freezegun import freeze_time
from moto.backends import get_backend
from moto.core.models import botocore_stubber

from local.moto_backend import dynamodb_writes_serialised
from local.template import function_environment
from notify.dal.api_keys import hash_api_key, put_api_key
from notify.dal.clients import client
from notify.dal.definitions import put_automation, put_event_definition
from notify.dal.profiles import create_profile
from notify.models.definitions import ApiKeyRecord, AutomationDefinition, EventDefinition
from notify.models.profiles import Profile, ProfileChannels
from notify.settings import get_settings
from tests.support.stack import ACCOUNT, REGION, Stack, in_process_stack

# Scenario n starts at BASE_TIME + n * SCENARIO_SPACING: the same instant alone or in a run, so a replay of one
# scenario sees the clock it saw in the run.
BASE_TIME = datetime(2030, 1, 1, tzinfo=UTC)
SCENARIO_SPACING_DAYS = 20


@dataclass
class ProviderLedger:
    """What reached a provider, per msg_id: moto's SES and SNS counted before and after each delivery (a nested
    delivery, a concurrent copy, is taken out of the enclosing one's count)."""

    receptions: Counter[str] = field(default_factory=Counter)
    ambiguous: set[str] = field(default_factory=set)
    # Called once, with the message, while the next delivery is at its provider (a concurrent copy).
    during_delivery: Callable[[Any], None] | None = None
    _nested: list[int] = field(default_factory=list)

    @staticmethod
    def accepted() -> int:
        ses = get_backend("ses")[ACCOUNT][REGION]
        sns = get_backend("sns")[ACCOUNT][REGION]
        return len(ses.sent_messages) + len(sns.sms_messages)

    def wrap(self, deliver: Callable[..., Any]) -> Callable[..., Any]:
        def delivering(providers: Any, message: Any, rendered: Any) -> Any:
            from notify.logic.providers import UnknownOutcomeError

            before = self.accepted()
            self._nested.append(0)
            try:
                if self.during_delivery is not None:
                    copy, self.during_delivery = self.during_delivery, None
                    copy(message)
                return deliver(providers, message, rendered)
            except UnknownOutcomeError:
                self.ambiguous.add(message.msg_id)
                raise
            except Exception:
                raise
            except BaseException:  # the invocation was killed around the provider call
                self.ambiguous.add(message.msg_id)
                raise
            finally:
                inner = self._nested.pop()
                own = self.accepted() - before - inner
                if own:
                    self.receptions[message.msg_id] += own
                if self._nested:
                    self._nested[-1] += own + inner

        return delivering

    def clear(self) -> None:
        self.receptions.clear()
        self.ambiguous.clear()
        get_backend("ses")[ACCOUNT][REGION].sent_messages.clear()
        get_backend("sns")[ACCOUNT][REGION].sms_messages.clear()


# DynamoDB's limits (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html).
ITEM_BYTES = 400 * 1024
TRANSACTION_BYTES = 4 * 1024 * 1024
TRANSACTION_ITEMS = 100
PARTITION_KEY_BYTES = 2048
SORT_KEY_BYTES = 1024


def _utf8(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def attribute_value_bytes(value: dict[str, Any]) -> int:
    """An attribute value's size as DynamoDB counts it: strings in UTF-8, binary by length, numbers about one
    byte per two significant digits plus one, containers 3 bytes plus one per element."""
    (kind, content), *_ = value.items()
    if kind == "S":
        return _utf8(content)
    if kind == "B":
        return len(content)
    if kind == "N":
        digits = content.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(_utf8(item) for item in content)
    if kind == "NS":
        return sum(attribute_value_bytes({"N": item}) for item in content)
    if kind == "BS":
        return sum(len(item) for item in content)
    if kind == "L":
        return 3 + sum(1 + attribute_value_bytes(item) for item in content)
    if kind == "M":
        return 3 + sum(1 + _utf8(name) + attribute_value_bytes(item) for name, item in content.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size: every attribute name and value."""
    return sum(_utf8(name) + attribute_value_bytes(value) for name, value in item.items())


@dataclass
class DynamoDBLimits:
    """Every write the product's DynamoDB client makes, measured against DynamoDB's limits (moto checks few)."""

    key_schema: dict[str, tuple[str, str | None]]
    breaches: list[str] = field(default_factory=list)

    def _key_breaches(self, table: str, key: dict[str, Any], operation: str) -> None:
        hash_attr, range_attr = self.key_schema.get(table, ("", None))
        for attribute, limit in ((hash_attr, PARTITION_KEY_BYTES), (range_attr, SORT_KEY_BYTES)):
            if attribute and attribute in key and (size := attribute_value_bytes(key[attribute])) > limit:
                self.breaches.append(f"{operation} on {table}: key {attribute} is {size} bytes (limit {limit})")

    def _item(self, table: str, item: dict[str, Any], operation: str) -> int:
        size = item_bytes(item)
        if size > ITEM_BYTES:
            self.breaches.append(f"{operation} on {table}: item of {size} bytes (limit {ITEM_BYTES})")
        self._key_breaches(table, item, operation)
        return size

    # On DynamoDB Local: a client of the harness's own (not the product's, whose calls are measured and faulted).
    reader: Any = None

    def stored(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        """The item as the store holds it now (DynamoDB JSON): moto's, read without a call, or DynamoDB Local's."""
        if self.reader is not None:
            found_item: dict[str, Any] | None = self.reader.get_item(TableName=table, Key=key, ConsistentRead=True).get(
                "Item"
            )
            return found_item
        backend = get_backend("dynamodb")[ACCOUNT][REGION]
        try:
            found = backend.get_item(table, key)
        except Exception:  # a malformed key: moto refuses the write too
            return None
        return found.to_json()["Attributes"] if found else None

    def before_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        operation = model.name
        if operation == "PutItem":
            self._item(params["TableName"], params["Item"], operation)
        elif operation in ("UpdateItem", "DeleteItem", "GetItem"):
            self._key_breaches(params["TableName"], params["Key"], operation)
        elif operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        self._item(table, request["PutRequest"]["Item"], operation)
                    else:
                        self._key_breaches(table, request["DeleteRequest"]["Key"], operation)
        elif operation == "TransactWriteItems":
            items = params["TransactItems"]
            if len(items) > TRANSACTION_ITEMS:
                self.breaches.append(f"TransactWriteItems of {len(items)} items (limit {TRANSACTION_ITEMS})")

    def after_call(self, model: Any, params: dict[str, Any], http_response: Any, **_: Any) -> None:
        """An update's item is known once moto applied it; a transaction's size is that of its items then."""
        if http_response.status_code != 200 or model.name not in ("UpdateItem", "TransactWriteItems"):
            return
        request = json.loads(params["body"])
        if model.name == "UpdateItem":
            item = self.stored(request["TableName"], request["Key"])
            if item is not None:
                self._item(request["TableName"], item, "UpdateItem (the item it leaves)")
            return
        total = 0
        for entry in request["TransactItems"]:
            kind, operation = next(iter(entry.items()))
            if kind == "Put":
                total += self._item(operation["TableName"], _decoded(operation["Item"]), "TransactWriteItems Put")
            elif kind == "Update":
                item = self.stored(operation["TableName"], operation["Key"])
                if item is not None:
                    total += self._item(operation["TableName"], item, "TransactWriteItems Update (the item it leaves)")
            else:
                total += item_bytes(_decoded(operation["Key"]))
        if total > TRANSACTION_BYTES:
            self.breaches.append(f"TransactWriteItems of {total} bytes (limit {TRANSACTION_BYTES})")


def _decoded(item: dict[str, Any]) -> dict[str, Any]:
    """An item of a serialised request: binary values are base64 there, and counted by their decoded length."""
    import base64

    def value(attribute: dict[str, Any]) -> dict[str, Any]:
        (kind, content), *_ = attribute.items()
        if kind == "B":
            return {"B": base64.b64decode(content)}
        if kind == "BS":
            return {"BS": [base64.b64decode(part) for part in content]}
        if kind == "L":
            return {"L": [value(part) for part in content]}
        if kind == "M":
            return {"M": {name: value(part) for name, part in content.items()}}
        return attribute

    return {name: value(attribute) for name, attribute in item.items()}


@dataclass
class World:
    """The worker's stack and everything a scenario plays against."""

    stack: Stack
    clock: Any
    monkeypatch: pytest.MonkeyPatch
    ledger: ProviderLedger
    limits: DynamoDBLimits
    dynamodb_local: bool = False

    def move_to(self, when: datetime) -> None:
        self.clock.move_to(when)

    def empty_tables(self) -> None:
        """Every table of the stack emptied in moto, without calls. Scenarios have workspaces of their own, but
        moto's Query reads and sorts a whole table: left to grow, a worker's scenarios get slower one by one.
        (DynamoDB Local indexes its tables: nothing to do there.)"""
        if self.dynamodb_local:
            return
        backend = get_backend("dynamodb")[ACCOUNT][REGION]
        for name in self.stack.resources.tables.values():
            table = backend.tables[name]
            table.items = defaultdict(dict)
            if table.stream_shard is not None:
                table.stream_shard.items = []

    def empty_queues(self) -> None:
        """Every queue of the stack emptied in moto, without calls (no PurgeQueue's 60-second rule)."""
        backend = get_backend("sqs")[ACCOUNT][REGION]
        for queue in self.stack.resources.queues.values():
            found = backend.queues[queue["name"]]
            found._messages = []
            found._pending_messages = set()

    def new_workspace(
        self,
        namespace: str,
        events: list[EventDefinition],
        automations: list[AutomationDefinition],
        profiles: list[Profile],
    ) -> tuple[str, str]:
        """A workspace of its own for one scenario run: its API key, definitions and profiles. (id, api key)"""
        workspace, api_key = f"WSSOAK{namespace}", f"soak-key-{namespace}"
        created_at = datetime.now(UTC).isoformat()
        put_api_key(ApiKeyRecord(key_hash=hash_api_key(api_key), workspace=workspace, created_at=created_at))
        for definition in events:
            put_event_definition(workspace, definition)
        for automation in automations:
            put_automation(workspace, automation)
        for profile in profiles:
            create_profile(workspace, profile)
        return workspace, api_key


def profile(distinct_id: str, email: str, sms: str | None = None) -> Profile:
    now = datetime.now(UTC).isoformat()
    return Profile(
        distinct_id=distinct_id,
        channel=ProfileChannels(email=email, sms=sms),
        created_at=now,
        updated_at=now,
        version="live",
    )


@contextmanager
def world(dynamodb_url: str | None = None) -> Iterator[World]:
    """The stack with the environment of every function the scenarios call, a frozen clock and the observers;
    with `dynamodb_url` (AWS's DynamoDB Local) its tables live there and only SQS, SES and SNS stay in moto."""
    with ExitStack() as stack_of:
        monkeypatch = pytest.MonkeyPatch()
        stack_of.callback(monkeypatch.undo)
        # moto answers in a `before-send` handler, and botocore runs every handler of that event: registered as a
        # built-in, moto's came before the product's time-budget guard (notify.dal.clients), which then refused a
        # call moto had already carried out. AWS never sees a call the guard refuses: moto's stub goes last.
        monkeypatch.setattr(
            botocore.handlers,
            "BUILTIN_HANDLERS",
            [
                (spec[0], spec[1], botocore.handlers.REGISTER_LAST) if spec[1] is botocore_stubber else spec
                for spec in botocore.handlers.BUILTIN_HANDLERS
            ],
        )
        if dynamodb_url is not None:
            # Every DynamoDB client (the product's and the harness's) goes there; moto's stub passes it through.
            monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_url)
        # botocore still retries throttling and 5xx answers as configured, without sleeping (tests/faults does too).
        monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
        clock = stack_of.enter_context(freeze_time(BASE_TIME))
        stack = stack_of.enter_context(in_process_stack(monkeypatch))
        stack_of.enter_context(dynamodb_writes_serialised())
        for function in ("SenderFunction", "StatusApiFunction", "ProfilesApiFunction"):
            for name, value in function_environment(function, stack.resources).items():
                if name not in ("POWERTOOLS_SERVICE_NAME",):
                    monkeypatch.setenv(name, value)
        monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "CRITICAL")
        get_settings.cache_clear()
        stack.session.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=get_settings().email_from)
        from notify.logic.providers import Providers
        from notify.observability import logger

        logger.setLevel("CRITICAL")
        ledger = ProviderLedger()
        monkeypatch.setattr(Providers, "deliver", ledger.wrap(Providers.deliver))
        ddb = stack.session.client("dynamodb", region_name=REGION)
        schema: dict[str, tuple[str, str | None]] = {}
        for table in stack.resources.tables.values():
            keys = ddb.describe_table(TableName=table)["Table"]["KeySchema"]
            hash_attr = next(k["AttributeName"] for k in keys if k["KeyType"] == "HASH")
            range_attr = next((k["AttributeName"] for k in keys if k["KeyType"] == "RANGE"), None)
            schema[table] = (hash_attr, range_attr)
        limits = DynamoDBLimits(schema)
        if dynamodb_url is not None:
            limits.reader = ddb
        events = client("dynamodb").meta.events
        events.register("before-parameter-build.dynamodb", limits.before_call, unique_id="soak-limits-before")
        events.register("before-send.dynamodb", _remember_params, unique_id="soak-limits-params")
        events.register("after-call.dynamodb", _after_call(limits), unique_id="soak-limits-after")
        yield World(
            stack=stack,
            clock=clock,
            monkeypatch=monkeypatch,
            ledger=ledger,
            limits=limits,
            dynamodb_local=dynamodb_url is not None,
        )


def _remember_params(request: Any, **_: Any) -> None:
    """The serialised request, kept in its context for the after-call hook (nested calls keep their own)."""
    request.context["soak_body"] = request.body


def _after_call(limits: DynamoDBLimits) -> Callable[..., None]:
    def after(model: Any, http_response: Any, context: Any = None, **_: Any) -> None:
        body = (context or {}).get("soak_body")
        if body is not None:
            limits.after_call(model=model, params={"body": body}, http_response=http_response)

    return after
