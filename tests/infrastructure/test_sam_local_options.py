"""`make run-sam` options (issue 10): moto listens on 127.0.0.1 and the Docker bridge only, never every interface."""

from __future__ import annotations

import socket

import pytest

from local.moto_backend import MotoServer
from local.process import free_port
from local.settings import InvalidSetting, parse_extra_hosts


def test_moto_extra_hosts_are_addresses_and_never_the_wildcard() -> None:
    assert parse_extra_hosts("172.17.0.1") == ("172.17.0.1",)
    assert parse_extra_hosts("") == ()
    for wildcard in ("0.0.0.0", "::"):  # noqa: S104  # the addresses refused
        with pytest.raises(InvalidSetting, match="every interface"):
            parse_extra_hosts(wildcard)
    with pytest.raises(InvalidSetting, match="not an IP address"):
        parse_extra_hosts("docker0")


def test_moto_serves_each_extra_host_besides_loopback() -> None:
    port = free_port()
    # 127.0.0.2 stands in for the bridge gateway: another address of this machine.
    server = MotoServer(port, extra_hosts=("127.0.0.2",))
    server.start()
    try:
        for host in ("127.0.0.1", "127.0.0.2"):
            with socket.create_connection((host, port), timeout=5):
                pass
    finally:
        server.close()
