"""One Lambda execution environment: a process that imports a handler once and runs one event at a time.

The parent (local.functions) starts it with exactly the function's environment variables and talks
JSON lines over stdin and a duplicate of the original stdout; the handler's own output (logs,
metrics) goes to stderr. Like the Lambda runtime, it puts the code directory and the layer
directories first on sys.path: that is runtime emulation, product code never touches sys.path.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import IO, Any

import botocore.handlers

from local.faults import ArmedFaults

ROOT = Path(__file__).resolve().parent.parent


class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, function_name: str, memory_size: int, request_id: str, deadline: float, region: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_size
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{function_name}"
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "$LATEST"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _use_runtime_path(code_uri: str, layers: list[str]) -> None:
    """sys.path as Lambda builds it: task root, then layers, then the runtime's own libraries."""
    runtime = [path for path in sys.path if path and Path(path).resolve() != ROOT]
    sys.path[:] = [code_uri, *layers, *runtime]
    os.chdir(code_uri)


def _send(channel: IO[str], message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc),
    }


def main() -> None:
    config = json.loads(sys.argv[1])
    # The parent owns this process's lifetime: a Ctrl-C in the terminal stops the parent, which stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    faults = ArmedFaults(config["function"])
    # Every botocore session registers the built-in handlers, so every client the handler creates gets this hook.
    botocore.handlers.BUILTIN_HANDLERS.append(("before-send", faults.before_send))
    _use_runtime_path(config["code_uri"], config["layers"])
    module_name, _, function_name = config["handler"].rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except BaseException as exc:  # an init error is reported, whatever it is, as Lambda does
        _send(replies, {"status": "init_error", **_error(exc)})
        return
    _send(replies, {"status": "ready"})

    region = os.environ.get("AWS_REGION", "us-east-1")
    for line in sys.stdin:
        request = json.loads(line)
        faults.arm(request["faults"])
        context = LocalLambdaContext(
            config["function"], config["memory_size"], request["request_id"], request["deadline"], region
        )
        try:
            result = handler(request["event"], context)
        except Exception as exc:
            traceback.print_exc()
            _send(replies, {"status": "error", **_error(exc)})
            continue
        try:
            _send(replies, {"status": "ok", "result": result})
        except (TypeError, ValueError) as exc:  # Lambda's Runtime.MarshalError: the result is not JSON
            _send(replies, {"status": "error", **_error(exc)})


if __name__ == "__main__":
    main()
