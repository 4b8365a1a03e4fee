"""moto server on 127.0.0.1, plus what the deployed stack has besides tables and queues:
a verified SES sender and a CloudFormation stack whose Outputs name the local resources."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.dynamodb.models import DynamoDBBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

LOCAL_STACK_NAME = "idempotent-notify-local"
# Credentials moto accepts (any value does); never a developer's real ones, and no secret.
FAKE_CREDENTIALS = dict.fromkeys(("aws_access_key_id", "aws_secret_access_key", "aws_session_token"), "testing")
# A transaction is one write: its condition checks and writes happen under the same lock as any other write.
DYNAMODB_WRITE_OPERATIONS = ("put_item", "update_item", "delete_item", "transact_write_items")


def serialise_dynamodb_writes() -> None:
    """Make moto's DynamoDB writes atomic, as DynamoDB's are.

    moto server handles requests on threads and evaluates a ConditionExpression and the write in
    separate steps, so two concurrent conditional puts on one key could both succeed; the
    idempotency claim (Powertools' attribute_not_exists put) relies on exactly one winning.
    """
    lock = threading.RLock()
    for name in DYNAMODB_WRITE_OPERATIONS:
        method = getattr(DynamoDBBackend, name)
        if not getattr(method, "_serialised", False):
            setattr(DynamoDBBackend, name, locked_by(lock, method))


@contextmanager
def dynamodb_writes_serialised() -> Iterator[None]:
    """`serialise_dynamodb_writes` while inside (tests of moto in-process), and moto's own methods again after."""
    lock = threading.RLock()
    originals = {name: getattr(DynamoDBBackend, name) for name in DYNAMODB_WRITE_OPERATIONS}
    for name, method in originals.items():
        setattr(DynamoDBBackend, name, locked_by(lock, method))
    try:
        yield
    finally:
        for name, method in originals.items():
            setattr(DynamoDBBackend, name, method)


def locked_by(lock: threading.RLock, method: Callable[..., Any]) -> Callable[..., Any]:
    """`method`, run holding `lock` (reentrant: a transaction's own writes take it again)."""

    @wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    locked.__dict__["_serialised"] = True
    return locked


def speed_up_sqs_clock() -> None:
    """Give moto's SQS a cheap clock: same values, without its datetime arithmetic.

    moto recomputes every queue attribute (visible, delayed and in-flight counts, each message's
    visibility checked against the clock) for each message it accepts, so sending 1000 messages
    costs about half a million clock reads; with moto's own clock a 1000-recipient bulk request
    takes longer than the function's timeout. time.time() is the same instant (and freezegun
    moves both).
    """
    import moto.sqs.models as sqs_models

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else original_unix_time(dt)

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else original_unix_time_millis(dt)

    if getattr(sqs_models.unix_time, "_fast", False):
        return
    original_unix_time, original_unix_time_millis = sqs_models.unix_time, sqs_models.unix_time_millis
    unix_time.__dict__["_fast"] = True
    sqs_models.unix_time = unix_time
    sqs_models.unix_time_millis = unix_time_millis


def speed_up_dynamodb_transactions() -> None:
    """Make moto's TransactWriteItems cost what its items cost, not what its tables hold.

    moto backs up every table a transaction touches with copy.deepcopy, to restore it when the transaction
    is cancelled; with an idempotency table that grows with every request, each keyed request's completion
    got slower than the last. Here only the items the transaction names are saved (as they were, or absent),
    and put back, or deleted, when moto raises: the same outcome, at the cost of those items.
    Call it before serialise_dynamodb_writes, so the whole transaction, restore included, holds the lock.
    """
    import copy
    import types

    import moto.dynamodb.models as dynamodb_models
    from moto.dynamodb.exceptions import MockValidationException

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "_fast", False):
        return

    def deepcopy(value: Any, memo: Any = None) -> Any:
        # The table backups of transact_write_items; everything else is copied as before.
        return value if isinstance(value, dynamodb_models.Table) else copy.deepcopy(value, memo)

    dynamodb_models.copy = types.SimpleNamespace(copy=copy.copy, deepcopy=deepcopy)  # type: ignore[assignment]

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        saved: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        for entry in transact_items:
            operation: dict[str, Any] = next(iter(entry.values()), {})
            name = operation.get("TableName")
            if name not in self.tables:
                continue  # moto refuses it; nothing of that table can change
            table = self.tables[name]
            if "Item" in operation:
                attributes = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
                key = {attribute: operation["Item"].get(attribute) for attribute in attributes}
            else:
                key = operation.get("Key", {})
            try:
                current = self.get_item(name, key)
            except MockValidationException:
                continue  # a malformed key: moto refuses that write too, so the item cannot change
            saved.append((name, key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
        try:
            original(self, transact_items)
        except Exception:
            for name, key, attributes in reversed(saved):
                if attributes is None:
                    self.delete_item(name, key)
                else:
                    self.put_item(name, attributes)
            raise

    transact_write_items.__dict__["_fast"] = True
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


class MotoServer:
    """moto's server on a thread of this process; binding happens at construction, so a taken port fails here.

    It listens on 127.0.0.1, and also on each of `extra_hosts` (`make run-sam`: the Docker bridge's gateway,
    where Lambda containers reach the host). One moto serves them all: its backends live in this process.
    """

    def __init__(self, port: int, extra_hosts: tuple[str, ...] = ()) -> None:
        # One line per request from werkzeug would drown the functions' own logs.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # The stack registered in moto's CloudFormation holds one no-op resource moto creates without support.
        warnings.filterwarnings("ignore", message="Tried to parse AWS::CloudFormation::WaitConditionHandle")
        self.url = f"http://127.0.0.1:{port}"
        hosts = ("127.0.0.1", *extra_hosts)
        # werkzeug reports a taken port by printing and exiting; check first so the caller can say it in one line.
        for host in hosts:
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((host, port))
        app = DomainDispatcherApplication(create_backend_app)
        self._servers = [
            make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler) for host in hosts
        ]
        self._threads = [
            threading.Thread(target=server.serve_forever, daemon=True, name=f"moto-{host}")
            for host, server in zip(hosts, self._servers, strict=True)
        ]

    def start(self) -> None:
        speed_up_dynamodb_transactions()
        serialise_dynamodb_writes()
        speed_up_sqs_clock()
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        for server, thread in zip(self._servers, self._threads, strict=True):
            if thread.is_alive():
                server.shutdown()
                thread.join()
            server.server_close()


class MotoSession:
    """What local.template.create_resources needs of a boto3 session, pointed at moto.

    `endpoints` sends chosen services elsewhere (DynamoDB to DynamoDB Local).
    """

    def __init__(self, endpoint_url: str, region: str, endpoints: dict[str, str] | None = None) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.endpoints = endpoints or {}

    def client(self, service: str, region_name: str | None = None) -> Any:
        return boto3.session.Session(**FAKE_CREDENTIALS).client(
            service,
            region_name=region_name or self.region,
            endpoint_url=self.endpoints.get(service, self.endpoint_url),
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=2, read_timeout=30),
        )


def verify_sender_identities(session: MotoSession, addresses: list[str]) -> None:
    """Verify each sender in SES (v1 and v2), so sending from it is allowed as in a configured account."""
    ses = session.client("ses")
    sesv2 = session.client("sesv2")
    for address in addresses:
        ses.verify_email_identity(EmailAddress=address)
        try:
            sesv2.create_email_identity(EmailIdentity=address)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "AlreadyExistsException":
                raise


def register_stack(session: MotoSession, outputs: dict[str, str]) -> None:
    """A CloudFormation stack with the local physical names as Outputs, for tools that read stack outputs."""
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Local stack: its Outputs name the resources on the local moto server.",
        # A stack needs a resource; this one creates nothing.
        "Resources": {"LocalStackMarker": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    session.client("cloudformation").create_stack(StackName=LOCAL_STACK_NAME, TemplateBody=json.dumps(template))
