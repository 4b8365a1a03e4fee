"""The local stack's settings: environment variables read and checked once, with errors that name them."""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from local.template import TEMPLATE_PATH
from notify.settings import InvalidSetting

DYNAMODB_BACKENDS = ("moto", "dynamodb-local")


class PortInUse(Exception):
    def __init__(self, variable: str, port: int) -> None:
        super().__init__(f"local stack: port {port} ({variable}) is in use; stop what holds it or set {variable}")


@dataclass(frozen=True)
class LocalSettings:
    api_port: int
    moto_port: int
    region: str
    template_path: Path
    # The outbox page (local/outbox): what the senders delivered, on a port of its own, never under /v1.
    outbox_port: int = 3001
    dynamodb: str = "moto"  # or "dynamodb-local": AWS's DynamoDB Local serves DynamoDB, moto the rest
    dynamodb_port: int = 8000
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    # Addresses moto listens on besides 127.0.0.1: `make run-sam` adds the Docker bridge's gateway.
    moto_extra_hosts: tuple[str, ...] = ()
    # moto as SAM CLI's containers reach it, for the --env-vars file; None: Docker Desktop's host.docker.internal.
    sam_endpoint_url: str | None = None

    @classmethod
    def from_environment(cls) -> LocalSettings:
        dynamodb = os.environ.get("LOCAL_DYNAMODB", "moto")
        if dynamodb not in DYNAMODB_BACKENDS:
            raise InvalidSetting(f"LOCAL_DYNAMODB must be one of: {', '.join(DYNAMODB_BACKENDS)}")
        return cls(
            api_port=int(os.environ.get("API_PORT", "3000")),
            moto_port=int(os.environ.get("MOTO_PORT", "5000")),
            outbox_port=int(os.environ.get("OUTBOX_PORT", "3001")),
            region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            # Tests of the emulator itself point this at a template of their own.
            template_path=Path(os.environ.get("LOCAL_TEMPLATE", str(TEMPLATE_PATH))).resolve(),
            dynamodb=dynamodb,
            dynamodb_port=int(os.environ.get("LOCAL_DYNAMODB_PORT", "8000")),
            parameter_overrides=parse_parameter_overrides(os.environ.get("LOCAL_PARAMETER_OVERRIDES", "")),
            moto_extra_hosts=parse_extra_hosts(os.environ.get("LOCAL_MOTO_EXTRA_HOSTS", "")),
            sam_endpoint_url=os.environ.get("LOCAL_SAM_ENDPOINT_URL") or None,
        )

    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def dynamodb_url(self) -> str | None:
        """DynamoDB Local's endpoint when it serves DynamoDB; None when moto does."""
        return f"http://127.0.0.1:{self.dynamodb_port}" if self.dynamodb == "dynamodb-local" else None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def outbox_url(self) -> str:
        return f"http://127.0.0.1:{self.outbox_port}/"


def parse_parameter_overrides(text: str) -> dict[str, str]:
    """`Name=Value Name2=Value2`, as `sam deploy --parameter-overrides` takes them."""
    overrides = {}
    for pair in text.split():
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise InvalidSetting(f"LOCAL_PARAMETER_OVERRIDES: '{pair}' is not Name=Value")
        overrides[name] = value
    return overrides


def parse_extra_hosts(text: str) -> tuple[str, ...]:
    """Addresses for moto besides 127.0.0.1; never every interface, so nothing off the machine reaches it."""
    hosts = tuple(text.replace(",", " ").split())
    for host in hosts:
        try:
            address = ipaddress.ip_address(host)
        except ValueError as exc:
            raise InvalidSetting(f"LOCAL_MOTO_EXTRA_HOSTS: '{host}' is not an IP address") from exc
        if address.is_unspecified:
            raise InvalidSetting(f"LOCAL_MOTO_EXTRA_HOSTS: '{host}' would expose moto on every interface")
    return hosts


def check_port_free(port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
