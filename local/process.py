"""`python -m local` as a child process on free loopback ports: started, awaited, stopped.

The integration suites and the bench both run the stack this way, each adding its own helpers.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess  # nosec B404  # starts only this interpreter's own `local` package
import sys
import threading
import time
from pathlib import Path

from local.template import ROOT

# The stack's own settings are chosen by the caller; nothing of the caller's AWS or stack setup leaks in.
_SCRUBBED_PREFIXES = ("AWS_", "LOCAL_", "API_PORT", "MOTO_PORT", "OUTBOX_PORT", "POWERTOOLS_")


class LocalStackNotReady(RuntimeError):
    """The stack printed no `ready` line in time, or exited first; the message names its log."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def local_stack_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without AWS or stack settings, on free ports, plus `overrides`."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith(_SCRUBBED_PREFIXES)}
    ports = {name: str(free_port()) for name in ("API_PORT", "MOTO_PORT", "OUTBOX_PORT")}
    environment.update({**ports, **overrides})
    return environment


class LocalStackProcess:
    """A running `python -m local`: its ports, the lines it printed up to `ready`, and its log file."""

    def __init__(self, environment: dict[str, str], log_path: Path, module: str = "local") -> None:
        """`module` is `local` (`make run`) or `local.sam` (`make run-sam`)."""
        self.api_port = int(environment["API_PORT"])
        self.moto_url = f"http://127.0.0.1:{environment['MOTO_PORT']}"
        self.outbox_port = int(environment.get("OUTBOX_PORT", "3001"))
        self.log_path = log_path
        self.banner: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._log = log_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603  # nosec B603  # our own interpreter and package, no shell
            [sys.executable, "-m", module],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        threading.Thread(target=self._read_stdout, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def wait_until_ready(self, timeout: float = 60) -> None:
        """Return once the stack prints its `ready` line; stop it and raise LocalStackNotReady otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty as exc:
                self.stop()
                message = f"local stack printed no 'ready' line in {timeout}s; log: {self.log_path}"
                raise LocalStackNotReady(message) from exc
            if line is None:
                raise LocalStackNotReady(f"local stack exited before ready: {self.log_path.read_text()[-3000:]}")
            self.banner.append(line)
            if "ready" in line:
                return

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, as a terminal's Ctrl-C or a supervisor would; the exit code tells whether it stopped cleanly."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._log.close()
