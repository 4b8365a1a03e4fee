"""Function pools: each function runs in its own worker processes, like Lambda execution environments.

A worker runs one invocation at a time; a pool keeps up to `max_workers` of them per function so
concurrent requests run concurrently. A worker that overruns the function's Timeout is killed, as
Lambda ends an execution environment whose invocation timed out.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess  # nosec B404  # starts only this interpreter's own worker module
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from local.template import ROOT, FunctionSpec

# Lambda allows 10 s of init; a cold local machine importing boto3 and Powertools in four workers
# at once needs more headroom.
INIT_TIMEOUT_SECONDS = 30
DEFAULT_MAX_WORKERS = 4

Outcome = Literal["ok", "error", "timeout"]


@dataclass
class Invocation:
    """What became of one invocation: the handler's result, its error, or a timeout."""

    outcome: Outcome
    result: Any = None
    error: dict[str, Any] = field(default_factory=dict)


class WorkerStartFailed(Exception):
    """The handler could not be imported (Lambda's init error)."""


class _Worker:
    def __init__(self, spec: FunctionSpec, environment: dict[str, str]) -> None:
        config = {
            "function": spec.logical_id,
            "handler": spec.handler,
            "code_uri": str(spec.code_uri),
            "layers": [str(layer) for layer in spec.layers],
            "memory_size": spec.memory_size,
        }
        # A new session keeps the terminal's Ctrl-C away from workers: the stack stops them in order.
        self.process = subprocess.Popen(  # noqa: S603  # nosec B603  # our own interpreter and module, no shell
            [sys.executable, "-m", "local.worker", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
            cwd=ROOT,
            text=True,
            start_new_session=True,
        )
        self.replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read_replies, daemon=True).start()
        reply = self._next_reply(INIT_TIMEOUT_SECONDS)
        if reply is None or reply.get("status") != "ready":
            self.kill()
            raise WorkerStartFailed(json.dumps(reply) if reply else "init timed out")

    def _read_replies(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.replies.put(json.loads(line))
        self.replies.put(None)  # the process is gone

    def _next_reply(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self.replies.get(timeout=timeout)
        except queue.Empty:
            return None

    def invoke(self, event: dict[str, Any], faults: list[dict[str, str]], timeout_seconds: int) -> Invocation:
        assert self.process.stdin is not None
        deadline = time.time() + timeout_seconds
        request = {"event": event, "faults": faults, "request_id": str(uuid.uuid4()), "deadline": deadline}
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except OSError:
            return Invocation("error", error={"errorType": "Runtime.ExitError", "errorMessage": "worker exited"})
        reply = self._next_reply(timeout_seconds)
        if reply is None:
            if self.process.poll() is None:
                return Invocation("timeout", error={"errorMessage": f"Task timed out after {timeout_seconds} seconds"})
            return Invocation("error", error={"errorType": "Runtime.ExitError", "errorMessage": "worker exited"})
        if reply["status"] == "ok":
            return Invocation("ok", result=reply.get("result"))
        return Invocation("error", error=reply)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace_seconds: float = 2) -> None:
        """Close stdin (the worker's loop ends), then kill it if it lingers."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


class FunctionPool:
    """Up to `max_workers` warm workers of one function; callers wait for a free one."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], max_workers: int = DEFAULT_MAX_WORKERS) -> None:
        self.spec = spec
        self.environment = environment
        self.max_workers = max_workers
        self._idle: list[_Worker] = []
        self._count = 0
        self._closed = False
        self._available = threading.Condition()

    def warm(self) -> None:
        """Start one worker ahead of the first request, so the first call is not a cold start.

        A handler that cannot be imported does not stop the stack: as on Lambda, its invocations fail.
        """
        try:
            worker = self._acquire()
        except WorkerStartFailed as exc:
            print("function", self.spec.logical_id, "failed to initialise:", exc, file=sys.stderr)
            return
        self._release(worker)

    def invoke(self, event: dict[str, Any], faults: list[dict[str, str]] | None = None) -> Invocation:
        """Run the handler on `event` in a free worker; a timed-out or crashed worker is replaced."""
        try:
            worker = self._acquire()
        except WorkerStartFailed as exc:
            return Invocation("error", error={"errorType": "Runtime.InitError", "errorMessage": str(exc)})
        invocation = worker.invoke(event, faults or [], self.spec.timeout_seconds)
        if invocation.outcome == "timeout" or not worker.alive:
            worker.kill()
            self._discard()
        else:
            self._release(worker)
        return invocation

    def _acquire(self) -> _Worker:
        with self._available:
            while not self._closed and not self._idle and self._count >= self.max_workers:
                self._available.wait()
            if self._closed:
                raise WorkerStartFailed("the local stack is stopping")
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            return _Worker(self.spec, self.environment)
        except BaseException:
            self._discard()
            raise

    def _release(self, worker: _Worker) -> None:
        with self._available:
            if self._closed:
                worker.stop()
                return
            self._idle.append(worker)
            self._available.notify()

    def _discard(self) -> None:
        with self._available:
            self._count -= 1
            self._available.notify()

    def close(self) -> None:
        """Stop the idle workers now; busy ones are stopped when they come back."""
        with self._available:
            self._closed = True
            idle, self._idle = self._idle, []
            self._available.notify_all()
        for worker in idle:
            worker.stop()
