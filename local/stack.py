"""`make run`: the whole stack on one machine, no Docker, no AWS account (docs/contract.md section 5)."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from local.dynamodb_local import DynamoDBLocal
from local.event_sources import Invoker, SqsPoller
from local.faults import ArmedFaultList
from local.functions import FunctionPool, Invocation
from local.http_api import LocalHttpApi
from local.lambda_environment import lambda_environment
from local.moto_backend import (
    LOCAL_STACK_NAME,
    MotoServer,
    MotoSession,
    register_stack,
    verify_sender_identities,
)
from local.outbox.capture import capture_sent_emails
from local.outbox.observed import ReplayCounter, SenderReceives
from local.outbox.reader import OutboxReader
from local.outbox.server import OutboxServer
from local.settings import InvalidSetting, LocalSettings, PortInUse, check_port_free
from local.template import (
    ROOT,
    FunctionSpec,
    LocalResources,
    create_resources,
    function_environment,
    function_specs,
    load_template,
)

DEFAULT_SENDER = "notifications@example.com"
DEMO_BODY = {"event": "Welcome_Email", "to": {"email": "rahul@example.com"}, "data": {"name": "Rahul"}}


def _print(*lines: str) -> None:
    for line in lines:
        print(line)
    sys.stdout.flush()


class LocalStack:
    """Everything `python -m local` runs; `stack.close()` undoes it in reverse order.

    With `functions_here=False` (`make run-sam`, local/sam.py) it runs no function and serves no HTTP API:
    SAM CLI's containers do both, and the caller starts the SQS event sources with invokers of its own.
    """

    def __init__(self, settings: LocalSettings, functions_here: bool = True) -> None:
        self.settings = settings
        self.functions_here = functions_here
        self.cleanup = contextlib.ExitStack()
        self.faults = ArmedFaultList()
        # What the outbox page shows besides AWS's records: replays are counted where this stack serves the API.
        self.replays = ReplayCounter() if functions_here else None
        self.receives = SenderReceives()
        # Bind every port first: a taken port is reported before anything else starts.
        try:
            self.moto = MotoServer(settings.moto_port, settings.moto_extra_hosts)
        except OSError as exc:
            raise PortInUse("MOTO_PORT", settings.moto_port) from exc
        self.api: LocalHttpApi | None = None
        try:
            if functions_here:
                self.api = LocalHttpApi(settings.api_port, self.faults, self.replays)
            else:
                check_port_free(settings.api_port)
        except OSError as exc:
            self.moto.close()
            raise PortInUse("API_PORT", settings.api_port) from exc
        try:
            self.outbox = OutboxServer(settings.outbox_port)
        except OSError as exc:
            self._close_servers()
            raise PortInUse("OUTBOX_PORT", settings.outbox_port) from exc
        if settings.dynamodb_url is not None:
            try:
                check_port_free(settings.dynamodb_port)
            except OSError as exc:
                self.outbox.close()
                self._close_servers()
                raise PortInUse("LOCAL_DYNAMODB_PORT", settings.dynamodb_port) from exc
        if self.api is not None:
            self.cleanup.callback(self.api.close)
        self.cleanup.callback(self.moto.close)
        self.cleanup.callback(self.outbox.close)
        self.pools: dict[str, FunctionPool] = {}
        self.specs: list[FunctionSpec] = []
        self.workspaces: list[dict[str, str]] = []

    def _close_servers(self) -> None:
        if self.api is not None:
            self.api.close()
        self.moto.close()

    def start(self) -> None:
        capture_sent_emails()
        self.moto.start()
        endpoints = {}
        if self.settings.dynamodb_url is not None:
            dynamodb = DynamoDBLocal(self.settings.dynamodb_port)
            self.cleanup.callback(dynamodb.close)
            dynamodb.wait_until_ready()
            endpoints["dynamodb"] = dynamodb.url
        template = load_template(self.settings.template_path)
        unknown = sorted(set(self.settings.parameter_overrides) - set(template.get("Parameters", {})))
        if unknown:
            raise InvalidSetting(f"LOCAL_PARAMETER_OVERRIDES: the template declares no parameter {', '.join(unknown)}")
        session = MotoSession(self.settings.moto_url, self.settings.region, endpoints)
        resources = create_resources(session, self.settings.region, template, self.settings.parameter_overrides)
        specs = function_specs(resources, self.settings.template_path.parent)
        runtime = str(template.get("Globals", {}).get("Function", {}).get("Runtime", "python3.13"))
        environments = {spec.logical_id: function_environment(spec.logical_id, resources) for spec in specs}
        self.specs = specs
        for spec in specs if self.functions_here else []:
            environment = lambda_environment(spec, environments[spec.logical_id], self.settings, runtime)
            self.pools[spec.logical_id] = FunctionPool(spec, environment)
            self.cleanup.callback(self.pools[spec.logical_id].close)

        # Seeding and warming one worker per function both spend their time importing: do them side by side.
        with _in_parallel() as run:
            run(lambda: self._seed(resources, specs))
            for pool in self.pools.values():
                run(pool.warm)

        senders = sorted({env["EMAIL_FROM"] for env in environments.values() if "EMAIL_FROM" in env})
        verify_sender_identities(session, senders or [DEFAULT_SENDER])
        outputs = resolved_outputs(resources, self.settings.api_url)
        register_stack(session, outputs)
        self._write_sam_env_vars(environments)
        self.resources, self.session = resources, session
        reader = OutboxReader(
            session, resources.tables, self.settings.region, resources.account, self.replays, self.receives
        )
        self.outbox.start(reader)

        if self.api is not None:
            self.api.start([route for spec in specs for route in spec.http_routes], self.pools)
            self.start_event_sources(lambda spec: self.pools[spec.logical_id])

    def start_event_sources(self, invoker_of: Callable[[FunctionSpec], Invoker]) -> None:
        """Poll every enabled SQS event source of the template, invoking what `invoker_of` gives for its function."""
        if os.environ.get("LOCAL_SQS_EVENT_SOURCES", "on") == "off":
            return
        sqs = self.session.client("sqs")
        for spec in self.specs:
            for source in spec.sqs_event_sources:
                if source.enabled:
                    poller = SqsPoller(
                        source,
                        self.resources.queues[source.queue],
                        invoker_of(spec),
                        self.faults,
                        sqs,
                        self.settings.region,
                        on_batch=self.receives.observe,
                    )
                    poller.start()
                    self.cleanup.callback(poller.stop)

    def _seed(self, resources: LocalResources, specs: list[FunctionSpec]) -> None:
        """Demo data (docs/contract.md 5), written by a worker with the layer on its path, like a custom resource."""
        if not {"ApiKeysTable", "DefinitionsTable"} <= resources.tables.keys():
            return
        layers = tuple(dict.fromkeys(layer for spec in specs for layer in spec.layers))
        spec = FunctionSpec("LocalSeed", ROOT, "local.seed.seed_handler", 60, 512, layers, (), ())
        environment = lambda_environment(spec, {}, self.settings, "python3.13")
        for name in ("LOCAL_WORKSPACE_1", "LOCAL_WORKSPACE_2", "LOCAL_API_KEY_1", "LOCAL_API_KEY_2"):
            if name in os.environ:
                environment[name] = os.environ[name]
        tables = {
            "api_keys_table": resources.tables["ApiKeysTable"],
            "definitions_table": resources.tables["DefinitionsTable"],
        }
        if "ProfilesTable" in resources.tables:
            tables["profiles_table"] = resources.tables["ProfilesTable"]
        pool = FunctionPool(spec, environment, max_workers=1)
        try:
            invocation: Invocation = pool.invoke(tables)
        finally:
            pool.close()
        if invocation.outcome != "ok":
            raise RuntimeError(f"seeding failed: {invocation.error.get('errorMessage', invocation.outcome)}")
        self.workspaces = invocation.result

    def _write_sam_env_vars(self, environments: dict[str, dict[str, str]]) -> None:
        """An --env-vars file for `sam local invoke/start-api` against this moto server (see docs/local-stack.md)."""
        # Docker Desktop routes host.docker.internal to the host's loopback; on Linux, see the docs.
        docker_endpoint = self.settings.sam_endpoint_url or f"http://host.docker.internal:{self.settings.moto_port}"
        env_vars = {name: {**env, "AWS_ENDPOINT_URL": docker_endpoint} for name, env in environments.items()}
        default_path = self.settings.template_path.parent / ".aws-sam" / "local-env.json"
        path = Path(os.environ.get("LOCAL_SAM_ENV_FILE", str(default_path)))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(env_vars, indent=2) + "\n")
        self.sam_env_vars_path = path

    def announce(self, functions: str | None = None) -> None:
        """The banner: where things are, the seeded keys, a curl to paste, and the `ready` line."""
        moto_hosts = ", ".join(f"http://{host}:{self.settings.moto_port}" for host in self.settings.moto_extra_hosts)
        lines = [
            f"moto server: {self.settings.moto_url}   CloudFormation stack: {LOCAL_STACK_NAME}",
            *([f"moto for containers: {moto_hosts}"] if moto_hosts else []),
            f"HTTP API:    {self.settings.api_url}   functions: {functions or ', '.join(self.pools) or '-'}",
            f"sam --env-vars file: {self.sam_env_vars_path}",
        ]
        if self.settings.dynamodb_url is not None:
            lines.append(f"DynamoDB:    {self.settings.dynamodb_url} (DynamoDB Local; SQS, SES and SNS on moto)")
        for workspace in self.workspaces:
            lines.append(f"workspace {workspace['workspace']}   API key {workspace['api_key']}")
        if self.workspaces:
            first = self.workspaces[0]
            lines += ["try (send it twice to see the replay):", self._demo_curl(first, DEMO_BODY)]
            if first.get("distinct_id"):
                # docs/contract.md section 6: the same event to the profile the seeding stored (local/seed.py).
                body = {"event": "Welcome_Email", "distinct_id": first["distinct_id"], "data": {"name": "Rahul"}}
                lines += [
                    f"send by distinct_id to the seeded profile {first['distinct_id']}:",
                    self._demo_curl(first, body),
                ]
        lines.append(f"outbox:      {self.settings.outbox_url}   (open it to see what was sent)")
        api, outbox = self.settings.api_url, self.settings.outbox_url
        lines.append(f"local stack ready on {api}, outbox on {outbox} (Ctrl-C to stop)")
        _print(*lines)

    def _demo_curl(self, workspace: dict[str, str], body: dict[str, Any]) -> str:
        """A curl a user can paste: an Event request of `workspace` with a fresh Idempotency-Key."""
        return shlex.join([
            "curl", "-i", "-X", "POST", f"{self.settings.api_url}/v1/{workspace['workspace']}/live/event",
            "-H", f"Authorization: Bearer {workspace['api_key']}",
            "-H", "Content-Type: application/json",
            "-H", f"Idempotency-Key: {uuid.uuid4()}",
            "-d", json.dumps(body, separators=(",", ":")),
        ])  # fmt: skip

    def close(self) -> None:
        # Stop taking requests first, then stop what serves them (pollers, workers), then moto.
        if self.api is not None:
            self.api.close()
        self.cleanup.close()


def resolved_outputs(resources: LocalResources, api_url: str) -> dict[str, str]:
    """The template's Outputs resolved to local values; ApiUrl is this machine's API."""
    outputs = {}
    for name, output in resources.template.get("Outputs", {}).items():
        try:
            value = resources.resolve(output["Value"])
        except KeyError:
            continue
        if isinstance(value, str):
            outputs[name] = value
    outputs["ApiUrl"] = api_url
    return outputs


@contextlib.contextmanager
def _in_parallel() -> Iterator[Any]:
    """Run callables on threads; wait for all, then re-raise the first failure."""
    threads: list[threading.Thread] = []
    errors: list[BaseException] = []

    def run(target: Any) -> None:
        def guarded() -> None:
            try:
                target()
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=guarded, daemon=True)
        thread.start()
        threads.append(thread)

    yield run
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
