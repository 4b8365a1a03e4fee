"""`make run-sam`: the API of `make run` served from Lambda containers by SAM CLI (docs/contract.md section 5).

moto, the seeded workspaces and the SQS event sources are the local stack's (local/stack.py); the
functions run in Docker: `sam local start-api` serves the HTTP API on API_PORT, and the event sources
invoke the sender through `sam local start-lambda`. Containers publish their ports on 127.0.0.1 only and
reach moto at the Docker bridge's gateway, the one address moto listens on besides 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import fcntl
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import struct
import subprocess  # nosec B404  # runs docker, SAM CLI and the image script of this repository, never a shell
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from local.functions import Invocation
from local.moto_backend import FAKE_CREDENTIALS
from local.process import free_port
from local.settings import InvalidSetting, LocalSettings, PortInUse
from local.signals import StopRequested, ignore_stop_signals, stop_on_signals, wait_for_stop
from local.stack import LocalStack
from local.template import ROOT, FunctionSpec, HttpRoute

SAM = ROOT / ".venv-sam" / "bin" / "sam"
IMAGE_SCRIPT = ROOT / "local" / "lambda_image" / "build.sh"
# SAM CLI reads and builds the template here; samconfig.toml's build settings (cached, parallel) apply too.
BUILD_DIR = ROOT / ".aws-sam"
# What `make run-sam` exits with when Docker cannot run here; tests/sam_local then skips (or fails in CI).
EXIT_NO_DOCKER = 3
# Starting a container and importing the layer take a few seconds on top of the function's own Timeout.
CONTAINER_START_SECONDS = 30
SAM_READY_TIMEOUT_SECONDS = 180

INSTALL_HINT = (
    "install and start it: `sudo apt-get install docker.io debootstrap && sudo dockerd &` "
    "(as root with CI=true, `make run-sam` and `make test` do both)"
)


class DockerUnavailable(Exception):
    """No Docker engine answers here; the message says how to get one."""


def host_architecture() -> str:
    """The Lambda architecture of this machine: local containers run it natively."""
    return "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"


def _run(command: list[str], timeout: float, stderr: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    """Run a command (never through a shell) and capture its stdout, and its stderr unless `stderr` is None."""
    return subprocess.run(  # noqa: S603  # nosec B603
        command, stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=timeout, check=False
    )


def docker_bridge_gateway() -> str:
    """The host's address on Docker's default bridge, where SAM's containers reach moto."""
    if shutil.which("docker") is None:
        raise DockerUnavailable(f"run-sam: no docker command here; {INSTALL_HINT}")
    info = _run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=30)
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        raise DockerUnavailable(f"run-sam: the Docker engine does not answer ({reason}); {INSTALL_HINT}")
    inspected = _run(["docker", "network", "inspect", "bridge", "--format", "{{json .}}"], timeout=30)
    if inspected.returncode != 0:
        raise DockerUnavailable(f"run-sam: Docker has no default bridge network: {inspected.stderr.strip()}")
    bridge = json.loads(inspected.stdout)
    gateways = [config["Gateway"] for config in (bridge.get("IPAM") or {}).get("Config") or [] if config.get("Gateway")]
    if gateways:
        return str(gateways[0])
    # Older engines (Debian's 20.10) leave the default bridge's gateway out: it is the bridge interface's address.
    return interface_address(bridge.get("Options", {}).get("com.docker.network.bridge.name", "docker0"))


def interface_address(name: str) -> str:
    """The IPv4 address of a network interface of this machine (SIOCGIFADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("256s", name.encode()[:15])
        try:
            answer = fcntl.ioctl(probe.fileno(), 0x8915, request)  # SIOCGIFADDR
        except OSError as exc:
            raise DockerUnavailable(f"run-sam: Docker's bridge interface {name} has no IPv4 address") from exc
    return socket.inet_ntoa(answer[20:24])


def lambda_base_image() -> str:
    """The Lambda Python 3.13 image: official where it is or can be pulled, else a cached stand-in (build.sh)."""
    # Its progress goes to our stderr; its stdout is the image's name.
    result = _run([str(IMAGE_SCRIPT)], timeout=1800, stderr=None)
    if result.returncode != 0:
        raise InvalidSetting("the Lambda base image could not be made; see the lines above")
    return result.stdout.strip().splitlines()[-1]


def sam_build(architecture: str, template_path: Path) -> Path:
    """`sam build` for the host's architecture into its own build dir; returns the built template."""
    build_dir = BUILD_DIR / f"build-{architecture}"
    command = [
        str(SAM), "build",
        "--template-file", str(template_path),
        "--build-dir", str(build_dir),
        "--cache-dir", str(BUILD_DIR / f"cache-{architecture}"),
        "--cached",
        "--parameter-overrides", f"Architecture={architecture}",
    ]  # fmt: skip
    # sam build's output goes to our stderr, with the functions' logs; stdout carries only the banner.
    if subprocess.run(command, cwd=ROOT, stdout=sys.stderr, check=False).returncode != 0:  # noqa: S603  # nosec B603
        raise InvalidSetting("sam build failed; see the lines above")
    return build_dir / "template.yaml"


class SamLambdaInvoker:
    """Invokes one function through `sam local start-lambda`, answering as a worker pool does."""

    def __init__(self, endpoint_url: str, spec: FunctionSpec, region: str) -> None:
        self.function = spec.logical_id
        self.client = boto3.session.Session(**FAKE_CREDENTIALS).client(
            "lambda",
            region_name=region,
            endpoint_url=endpoint_url,
            config=Config(
                retries={"max_attempts": 1},
                connect_timeout=5,
                read_timeout=spec.timeout_seconds + CONTAINER_START_SECONDS,
            ),
        )

    def invoke(self, event: dict[str, Any], faults: list[dict[str, str]] | None = None) -> Invocation:
        # Armed faults live in the local stack's own workers; containers are not fault-injected.
        try:
            response = self.client.invoke(FunctionName=self.function, Payload=json.dumps(event).encode())
            payload = json.loads(response["Payload"].read() or b"null")
        except (BotoCoreError, ClientError, ValueError) as exc:
            return Invocation("error", error={"errorType": type(exc).__name__, "errorMessage": str(exc)})
        if response.get("FunctionError"):
            error = payload if isinstance(payload, dict) else {"errorMessage": str(payload)}
            return Invocation("error", error=error)
        return Invocation("ok", result=payload)


class SamService:
    """One `sam local start-api` or `start-lambda`, in its own session so that only we signal it."""

    def __init__(self, name: str, command: list[str], environment: dict[str, str], port: int) -> None:
        self.name = name
        self.port = port
        # SAM CLI logs and the functions' logs (their stdout and stderr) go to our stderr, as under `make run`.
        self.process = subprocess.Popen(  # noqa: S603  # nosec B603  # SAM CLI from .venv-sam, no shell
            command, cwd=ROOT, env=environment, stdout=sys.stderr, stderr=sys.stderr, start_new_session=True
        )

    def wait_until_serving(self, deadline: float) -> None:
        while True:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise InvalidSetting(f"sam local {self.name} exited with {code}; see the lines above")
            with socket.socket() as probe:
                probe.settimeout(1)
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if time.monotonic() > deadline:
                raise InvalidSetting(f"sam local {self.name} did not serve on port {self.port} in time")
            time.sleep(0.5)

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM: SAM CLI then stops and removes the containers it started, before exiting."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def warm_http_functions(api_port: int, specs: list[FunctionSpec]) -> None:
    """One request without an API key per function through start-api, so the first real request is not a cold start.

    Each answers an error (its path names the version `warm-up`: 404) or the public OpenAPI document, and
    stores nothing, but imports the handler and its layer in the function's container, as `make run` warms
    one worker per function before it is ready.
    """
    routes = {spec.logical_id: spec.http_routes[0] for spec in specs if spec.http_routes}

    def warm(route: HttpRoute) -> None:
        method = "GET" if route.method in ("GET", "ANY") else route.method
        path = re.sub(r"\{[^}]+\}", "warm-up", route.path)
        connection = http.client.HTTPConnection("127.0.0.1", api_port, timeout=CONTAINER_START_SECONDS * 2)
        try:
            connection.request(method, path, body=b"{}" if method != "GET" else None)
            connection.getresponse().read()
        except OSError as exc:
            print("run-sam: warming", route.function, "failed:", exc, file=sys.stderr)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(routes) or 1) as pool:
        list(pool.map(warm, routes.values()))


def containers_of_run(moto_endpoint_url: str) -> list[str]:
    """Ids of the Lambda containers (as SAM CLI labels them) pointed at the moto of one run, running or not."""
    listed = _run(["docker", "ps", "-aq", "--filter", "label=sam.cli.container.type=lambda"], timeout=30)
    ids = listed.stdout.split()
    if listed.returncode != 0 or not ids:
        return []
    inspected = _run(["docker", "inspect", "--format", "{{.Id}} {{json .Config.Env}}", *ids], timeout=30)
    ours = []
    for line in inspected.stdout.splitlines():
        container_id, _, env = line.partition(" ")
        if f"AWS_ENDPOINT_URL={moto_endpoint_url}" in json.loads(env or "[]"):
            ours.append(container_id)
    return ours


def remove_leftover_containers(moto_endpoint_url: str) -> None:
    """Remove the containers of this run that SAM CLI left behind (its warm-container cleanup can miss some)."""
    leftovers = containers_of_run(moto_endpoint_url)
    if leftovers:
        print(f"run-sam: removing {len(leftovers)} container(s) SAM CLI left behind", file=sys.stderr)
        _run(["docker", "rm", "--force", *leftovers], timeout=60)


def sam_environment(settings: LocalSettings) -> dict[str, str]:
    """SAM CLI's own environment: moto's fake credentials (SAM passes them to containers), no telemetry."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "DOCKER_HOST", "PYENV_VERSION", "PYENV_ROOT")
    environment = {name: os.environ[name] for name in keep if name in os.environ}
    environment.update(
        {
            "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
            "AWS_SESSION_TOKEN": FAKE_CREDENTIALS["aws_session_token"],
            "AWS_DEFAULT_REGION": settings.region,
            "AWS_REGION": settings.region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "SAM_CLI_TELEMETRY": "0",
        }
    )
    return environment


def sam_local_command(
    service: str, port: int, template: Path, env_file: Path, architecture: str, settings: LocalSettings, warm: str
) -> list[str]:
    return [
        str(SAM), "local", service,
        "--template-file", str(template),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--env-vars", str(env_file),
        "--parameter-overrides", f"Architecture={architecture}",
        "--region", settings.region,
        # build.sh made or found the image under its official name; SAM must not try a registry.
        "--skip-pull-image",
        "--warm-containers", warm,
        # SAM publishes each container's port on this interface and connects to it there.
        "--container-host", "127.0.0.1",
        "--container-host-interface", "127.0.0.1",
    ]  # fmt: skip


def main() -> int:
    stop_on_signals()
    services: list[SamService] = []
    stack: LocalStack | None = None
    try:
        settings = LocalSettings.from_environment()
        gateway = docker_bridge_gateway()
        architecture = host_architecture()
        image = lambda_base_image()
        template = sam_build(architecture, settings.template_path)
        settings = dataclasses.replace(
            settings,
            moto_extra_hosts=(*settings.moto_extra_hosts, gateway),
            sam_endpoint_url=f"http://{gateway}:{settings.moto_port}",
        )
        stack = LocalStack(settings, functions_here=False)
        stack.start()
        environment = sam_environment(settings)
        lambda_port = int(os.environ.get("LOCAL_SAM_LAMBDA_PORT") or free_port())
        env_file = stack.sam_env_vars_path
        # The API's containers are started up front (EAGER) and warmed before `ready`; the sender's starts on
        # the first message (LAZY), so start-lambda does not start a container for every function.
        services.append(
            SamService(
                "start-lambda",
                sam_local_command("start-lambda", lambda_port, template, env_file, architecture, settings, "LAZY"),
                environment,
                lambda_port,
            )
        )
        services.append(
            SamService(
                "start-api",
                sam_local_command("start-api", settings.api_port, template, env_file, architecture, settings, "EAGER"),
                environment,
                settings.api_port,
            )
        )
        deadline = time.monotonic() + SAM_READY_TIMEOUT_SECONDS
        for service in services:
            service.wait_until_serving(deadline)
        warm_http_functions(settings.api_port, stack.specs)
        endpoint = f"http://127.0.0.1:{lambda_port}"
        stack.start_event_sources(lambda spec: SamLambdaInvoker(endpoint, spec, settings.region))
        stack.announce(functions=f"Lambda containers of {image} ({architecture}), sam local start-api")
        wait_for_stop()
    except StopRequested:
        print("local stack stopping", flush=True)
        return 0
    except DockerUnavailable as exc:
        print(exc, file=sys.stderr)
        return EXIT_NO_DOCKER
    except (PortInUse, InvalidSetting) as exc:
        print(f"run-sam: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the shutdown short.
        ignore_stop_signals()
        # Stop taking requests, then the event sources and moto, then the sender's containers.
        for service in reversed(services):
            if service.name == "start-api":
                service.stop()
        if stack is not None:
            stack.close()
        for service in services:
            if service.name == "start-lambda":
                service.stop()
        if services and settings.sam_endpoint_url:
            remove_leftover_containers(settings.sam_endpoint_url)


if __name__ == "__main__":
    sys.exit(main())
