"""A scenario played against a worker's world: its workspace set up, each step with its fault, then the queue
drained with no faults (the clock jumping to each delayed message), and what happened handed to the invariants."""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError

from local.container import import_function
from local.seed import DEMO_EVENTS, DemoWorkspace
from notify.dal.api_keys import hash_api_key, put_api_key, revoke_api_key
from notify.dal.clients import client as product_client
from notify.dal.definitions import put_event_definition
from notify.models.definitions import ApiKeyRecord, AutomationDefinition, EventDefinition
from soak.faults import Fault, Injection, inject
from soak.scenarios import Deliver, Operator, Request, Scenario, distinct_id, email, phone
from soak.world import BASE_TIME, SCENARIO_SPACING_DAYS, World, profile
from tests.support.clients import (
    ApiClient,
    AutomationApiClient,
    BulkApiClient,
    EventApiClient,
    HttpResult,
    ProfilesApi,
    StatusApiClient,
)
from tests.support.faults import SimulatedLambdaTimeout
from tests.support.stack import CountdownLambdaContext, FakeLambdaContext, load_function, sample_event

AUTOMATION_ID = "soak_flow"
SENDER_TIMEOUT_MS = 30_000
MAX_DRAIN_INVOCATIONS = 300


@dataclass
class Attempt:
    """One API call and what the client got (None: the invocation was killed, no answer)."""

    step: int
    at: float
    request: Request
    result: HttpResult | None
    fault: Injection | None
    nested: bool = False

    @property
    def fault_fired(self) -> bool:
        return self.fault is not None and self.fault.fired > 0


@dataclass
class Played:
    scenario: Scenario
    workspace: str
    attempts: list[Attempt] = field(default_factory=list)
    faults: int = 0
    problems: list[str] = field(default_factory=list)  # found while playing (the queue did not drain...)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)


def automation(step_delay: int) -> AutomationDefinition:
    return AutomationDefinition.model_validate(
        {
            "id": AUTOMATION_ID,
            "steps": [
                {
                    "event": "Welcome_Email",
                    "to": {"email": "email"},
                    "distinct_id": "user",
                    "data": "{name: name}",
                    "delay_seconds": 0,
                },
                {
                    "event": "OrderConfirmed",
                    "to": {"email": "email", "sms": "phone"},
                    "data": "{name: name, order_id: order.id, amount: order.amount}",
                    "delay_seconds": step_delay,
                },
            ],
        }
    )


@cache
def duplicate_module(function: str) -> Any:
    """A second warm container of `function`, for a request that arrives while another one executes."""
    return import_function(function, "soak-duplicate")


class Sender:
    """Lambda's SQS event source for the Sender function (tests/support/sender.py), with SQS's liberties: a
    batch in any order and of any size, copies handed out again, a copy delivered concurrently."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.world, self.rng = world, rng
        self.stack = world.stack
        self.sqs = self.stack.session.client("sqs", region_name="us-east-1")
        self.module = load_function("sender")
        self.in_flight: list[str] = []

    def event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        envelope = sample_event("sender/sqs_batch.json")["Records"][0]
        return {
            "Records": [
                {
                    **envelope,
                    "messageId": m["MessageId"],
                    "receiptHandle": m.get("ReceiptHandle", "concurrent-copy"),
                    "body": m["Body"],
                    "md5OfBody": m.get("MD5OfBody", ""),
                    "attributes": m["Attributes"],
                    "eventSourceARN": self.stack.resources.queues["NotificationQueue"]["arn"],
                }
                for m in messages
            ]
        }

    def invoke(self, module: Any, messages: list[dict[str, Any]]) -> set[str]:
        """One invocation; the message ids it reported failed."""
        context = CountdownLambdaContext(remaining_ms=SENDER_TIMEOUT_MS)
        context.function_name = "SenderFunction"
        try:
            response = module.lambda_handler(self.event(messages), context)
        except BatchProcessingError:
            return {m["MessageId"] for m in messages}
        return {item["itemIdentifier"] for item in response["batchItemFailures"]}

    def run_once(self, batch_size: int = 10) -> int:
        received = self.sqs.receive_message(
            QueueUrl=self.stack.queue_url, MaxNumberOfMessages=batch_size, AttributeNames=["All"]
        ).get("Messages", [])
        if not received:
            return 0
        self.rng.shuffle(received)  # SQS standard queues keep no order
        self.in_flight = [m["ReceiptHandle"] for m in received]
        failed = self.invoke(self.module, received)
        for m in received:
            if m["MessageId"] in failed:
                self.visible_now(m["ReceiptHandle"])
            else:
                self.sqs.delete_message(QueueUrl=self.stack.queue_url, ReceiptHandle=m["ReceiptHandle"])
        self.in_flight = []
        return len(received)

    def expire_in_flight(self) -> None:
        """The killed invocation's visibility timeout passes: its messages come back (at once where SQS lets the
        visibility be changed: not 12 hours after a message's first receive; the drain then waits it out)."""
        for handle in self.in_flight:
            self.visible_now(handle)
        self.in_flight = []

    def visible_now(self, handle: str) -> None:
        """A received message visible again at once (Lambda's failed batch item, with the visibility timeout
        passed). SQS refuses the change 12 hours after the message's first receive: the drain then waits out
        the queue's own visibility timeout."""
        try:
            self.sqs.change_message_visibility(QueueUrl=self.stack.queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "InvalidParameterValue":
                raise

    def redeliver_visible(self) -> None:
        """SQS hands out a second copy of every message that is due (at-least-once delivery)."""
        now_ms = time.time() * 1000
        for message in self.stack.queue_contents():
            if not message.delayed_until or message.delayed_until <= now_ms:
                self.sqs.send_message(QueueUrl=self.stack.queue_url, MessageBody=message.body)

    def concurrent_copy(self, message: Any) -> None:
        """A copy of the message being delivered, delivered by another container at the same time; if that
        one fails, SQS will hand it out again."""
        copy = {
            "MessageId": str(uuid.uuid4()),
            "Body": message.model_dump_json(),
            "Attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": str(int(time.time() * 1000)),
                "SenderId": "soak",
                "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
            },
        }
        try:
            failed = self.invoke(duplicate_module("sender"), [copy])
        except SimulatedLambdaTimeout:
            failed = {copy["MessageId"]}
        if failed:
            self.sqs.send_message(QueueUrl=self.stack.queue_url, MessageBody=copy["Body"])

    def drain(self, played: Played) -> None:
        """Invoke until the queue is empty, the clock jumping to each delayed message's time (no faults)."""
        for _ in range(MAX_DRAIN_INVOCATIONS):
            if self.run_once():
                continue
            contents = self.stack.queue_contents()
            if not contents:
                return
            now = time.time()
            wake = min(
                max(
                    (m.delayed_until or 0) / 1000, (m.visible_at or 0) / 1000, json.loads(m.body).get("not_before") or 0
                )
                for m in contents
            )
            self.world.move_to(datetime.fromtimestamp(max(wake, now) + 1, UTC))
        played.problems.append(f"the queue did not drain in {MAX_DRAIN_INVOCATIONS} sender invocations")
        self.purge("NotificationQueue")

    def purge(self, queue: str) -> list[dict[str, Any]]:
        url = self.stack.resources.queues[queue]["url"]
        bodies = []
        while messages := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for m in messages:
                bodies.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return bodies


class Game:
    """One scenario's clients, workspace and the state its steps share."""

    def __init__(self, world: World, scenario: Scenario, namespace: str | None = None) -> None:
        self.world, self.scenario = world, scenario
        index = scenario.index
        namespace = namespace or f"{index:07d}"
        world.move_to(BASE_TIME + timedelta(days=SCENARIO_SPACING_DAYS * index))
        world.ledger.clear()
        world.empty_queues()  # what a scenario that raised left behind is not the next one's
        world.empty_tables()
        world.limits.breaches.clear()
        events = [EventDefinition.model_validate(e.model_dump()) for e in DEMO_EVENTS]
        self.workspace, self.api_key = world.new_workspace(
            namespace,
            events,
            [automation(scenario.step_delay)],
            [profile(distinct_id(index), email(index, 90), phone(index, 90))],
        )
        # The status route is read with a key of its own: an operator may revoke the one requests use.
        self.check_key = f"soak-check-{namespace}"
        put_api_key(
            ApiKeyRecord(
                key_hash=hash_api_key(self.check_key),
                workspace=self.workspace,
                created_at=datetime.now(UTC).isoformat(),
            )
        )
        demo = DemoWorkspace(self.workspace, self.api_key)
        self.clients: dict[str, ApiClient] = {
            "event": EventApiClient(demo),
            "bulk": BulkApiClient(demo),
            "automation": AutomationApiClient(demo, AUTOMATION_ID),
            "cancel": AutomationApiClient(demo, AUTOMATION_ID),
        }
        self.clients["cancel"].route = f"automation/{AUTOMATION_ID}/cancel"
        self.status = StatusApiClient(DemoWorkspace(self.workspace, self.check_key))
        self.profiles = ProfilesApi(self.workspace, self.check_key, load_function("profiles_api"))
        self.rng = random.Random(f"{scenario.seed}:{index}:play")  # noqa: S311 (seeded, replayable)
        self.sender = Sender(world, self.rng)
        self.expirations: dict[tuple[str, str | None], str] = {}
        self.played = Played(scenario, self.workspace)

    def play(self) -> Played:
        for number, step in enumerate(self.scenario.steps):
            if step.advance:
                self.world.clock.tick(timedelta(seconds=step.advance))
            with inject(step.fault, self.world.stack.resources.tables, self.world.clock) as injection:
                if isinstance(step.action, Request):
                    self.request(number, step.action, injection)
                elif isinstance(step.action, Deliver):
                    self.deliver(step.action)
                else:
                    self.operate(step.action)
            if injection is not None and injection.fired:
                self.played.faults += 1
        self.sender.drain(self.played)
        self.played.dead_letters = self.sender.purge("NotificationDLQ")
        return self.played

    def headers(self, request: Request) -> dict[str, str]:
        headers = dict(request.headers)
        if headers.get("x-idempotency-expiration") == "EXPIRES_IN_30H":
            # Resolved once per key, as a client sends its first request's header again on a retry.
            headers["x-idempotency-expiration"] = self.expirations.setdefault(
                (request.api, request.key), str(int((time.time() + 30 * 3600) * 1000))
            )
        return headers

    def call(self, client: ApiClient, request: Request) -> HttpResult | None:
        try:
            return client.post(
                request.body,
                key=request.key,
                headers=self.headers(request),
                version=request.version,
                raw_body=request.raw_body,
                route=request.route,
                context=FakeLambdaContext(client.timeout_ms),
            )
        except SimulatedLambdaTimeout:
            return None

    def request(self, number: int, request: Request, injection: Injection | None) -> None:
        client = self.clients[request.api]
        if not request.duplicate_during:
            self.played.attempts.append(Attempt(number, time.time(), request, self.call(client, request), injection))
            return
        # The same request arrives at another container while this one is queueing its notifications.
        duplicate = type(client).__new__(type(client))
        duplicate.__dict__.update(client.__dict__)
        duplicate.module = duplicate_module(client.module.__name__.removesuffix("_app"))
        fired: list[bool] = []
        sqs_events = product_client("sqs").meta.events

        def arrive(**_: Any) -> None:
            if fired:
                return
            fired.append(True)
            at = time.time()
            self.played.attempts.append(Attempt(number, at, request, self.call(duplicate, request), injection, True))

        sqs_events.register_first("before-send.sqs.SendMessageBatch", arrive, unique_id="soak-duplicate")
        try:
            result = self.call(client, request)
        finally:
            sqs_events.unregister("before-send.sqs.SendMessageBatch", unique_id="soak-duplicate")
        self.played.attempts.append(Attempt(number, time.time(), request, result, injection))

    def deliver(self, deliver: Deliver) -> None:
        if deliver.redeliver:
            self.sender.redeliver_visible()
        if deliver.concurrent_copy:
            self.world.ledger.during_delivery = self.sender.concurrent_copy
        try:
            for _ in range(deliver.invocations):
                try:
                    if not self.sender.run_once(deliver.batch_size):
                        break
                except SimulatedLambdaTimeout:
                    self.sender.expire_in_flight()
        finally:
            self.world.ledger.during_delivery = None

    def operate(self, operator: Operator) -> None:
        index = self.scenario.index
        if operator.action == "change_definition":
            changed = EventDefinition.model_validate(
                {"name": "Welcome_Email", "channels": {"email": {"subject": "Changed {{ name }}", "body": "Changed."}}}
            )
            put_event_definition(self.workspace, changed)
        elif operator.action == "delete_definition":
            self.world.stack.session.client("dynamodb").delete_item(
                TableName=self.world.stack.resources.tables["DefinitionsTable"],
                Key={"workspace": {"S": self.workspace}, "definition_id": {"S": "event#OrderConfirmed"}},
            )
        elif operator.action == "change_profile":
            self.profiles.patch_channel(distinct_id(index), {"email": email(index, 91)})
        else:
            revoke_api_key(hash_api_key(self.api_key))


def play(world: World, scenario: Scenario) -> Played:
    return Game(world, scenario).play()


def as_fault(value: Fault | None) -> str:
    return str(value) if value else "none"
