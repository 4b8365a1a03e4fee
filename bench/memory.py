"""Peak memory of each function while it serves the bench's requests, against its template MemorySize.

Each function runs in a fresh process of its own (as in its own Lambda environment), against moto in that
process: the moto stack is set up and seeded first, its RSS noted, then the handler is imported and serves
its workload (the Bulk function a 1000-recipient bulk among others). The process's peak RSS (VmHWM) counts
moto too, so `function_mb` = peak - the stack's RSS before the import is what the function added: an
upper bound, since moto's own storage also grows while it serves.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUNTIME_HEADROOM = 1.5  # MemorySize should exceed the function's peak by at least this factor
FUNCTIONS = (
    ("EventApiFunction", "event_api"),
    ("BulkApiFunction", "bulk_api"),
    ("AutomationApiFunction", "automation_api"),
    ("StatusApiFunction", "status_api"),
    ("OpenApiFunction", "openapi_api"),
    ("SenderFunction", "sender"),
)
ROOT = Path(__file__).resolve().parent.parent


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class MemoryUse:
    function: str
    memory_size_mb: int
    stack_mb: float
    peak_mb: float
    requests: int

    @property
    def function_mb(self) -> float:
        return max(0.0, self.peak_mb - self.stack_mb)

    @property
    def verdict(self) -> str:
        # The whole process (moto included) is the conservative figure to size by.
        return "OK" if self.peak_mb * RUNTIME_HEADROOM <= self.memory_size_mb else "TIGHT"

    def as_dict(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "memory_size_mb": self.memory_size_mb,
            "stack_rss_mb": round(self.stack_mb, 1),
            "peak_rss_mb": round(self.peak_mb, 1),
            "function_mb": round(self.function_mb, 1),
            "requests": self.requests,
            "verdict": self.verdict,
        }


def _serve(logical_id: str, name: str) -> dict[str, Any]:
    """In the child process: stack, then the one function and its workload; returns the figures."""
    from bench.aws_calls import ONBOARDING_PAYLOAD, WELCOME, bulk_body
    from bench.harness import (
        AUTOMATION_API,
        BULK_API,
        EVENT_API,
        FakeLambdaContext,
        api_gateway_event,
        in_process_stack,
        invoke,
        load_function,
    )
    from local.template import function_environment

    requests = 0
    with in_process_stack() as stack:
        import os

        import boto3

        resources = stack.resources
        os.environ.update(function_environment(logical_id, resources))
        session = boto3.session.Session()
        sqs_messages: list[dict[str, Any]] = []
        if name == "sender":
            session.client("sesv2").create_email_identity(EmailIdentity=os.environ["EMAIL_FROM"])
            sample = json.loads((ROOT / "events/sender/sqs_batch.json").read_text())["Records"][0]
            for _ in range(100):
                body = {**json.loads(sample["body"]), "msg_id": str(uuid.uuid4()), "request_id": str(uuid.uuid4())}
                sqs_messages.append({**sample, "messageId": str(uuid.uuid4()), "body": json.dumps(body)})
        request_ids = [str(uuid.uuid4()) for _ in range(50)]
        if name == "status_api":
            ddb = session.client("dynamodb")
            for request_id in request_ids:
                ddb.put_item(
                    TableName=resources.tables["DeliveryLogTable"],
                    Item={
                        "request_id": {"S": request_id},
                        "msg_id": {"S": "#request"},
                        "workspace": {"S": stack.workspace.workspace},
                        "version": {"S": "live"},
                        "event": {"S": "Welcome_Email"},
                        "received_time": {"S": "2026-01-01T00:00:00.000Z"},
                        "notifications": {
                            "L": [
                                {
                                    "M": {
                                        "msg_id": {"S": str(uuid.uuid4())},
                                        "channel": {"S": "email"},
                                        "destination": {"S": "r***@example.com"},
                                    }
                                }
                            ]
                        },
                        "expires_at": {"N": str(int(time.time()) + 86400)},
                        "not_queued": {"L": []},
                    },
                )
        stack_mb = _rss_mb("VmRSS")
        if name == "event_api":
            for n in range(100):
                requests += _ok(invoke(EVENT_API, api_gateway_event(EVENT_API, stack.workspace, WELCOME, key=f"m{n}")))
            for _ in range(100):
                requests += _ok(invoke(EVENT_API, api_gateway_event(EVENT_API, stack.workspace, WELCOME, key="m0")))
        elif name == "bulk_api":
            big = api_gateway_event(BULK_API, stack.workspace, bulk_body(1000), key="m-bulk")
            requests += _ok(invoke(BULK_API, big)) + _ok(invoke(BULK_API, big))
            for n in range(20):
                event = api_gateway_event(BULK_API, stack.workspace, bulk_body(1), key=f"m{n}")
                requests += _ok(invoke(BULK_API, event))
        elif name == "automation_api":
            for n in range(100):
                event = api_gateway_event(AUTOMATION_API, stack.workspace, ONBOARDING_PAYLOAD, key=f"m{n}")
                requests += _ok(invoke(AUTOMATION_API, event))
        elif name in ("status_api", "openapi_api"):
            module = load_function(name)
            sample = json.loads(
                (ROOT / f"events/{name}/{'get_request' if name == 'status_api' else 'get_openapi'}.json").read_text()
            )
            targets: list[str] = request_ids * 4 if name == "status_api" else ["openapi"] * 20
            for request_id in targets:
                event = copy.deepcopy(sample)
                if name == "status_api":
                    path = f"/v1/{stack.workspace.workspace}/live/request/{request_id}"
                    event["rawPath"] = event["requestContext"]["http"]["path"] = path
                    event["pathParameters"] = {
                        "workspace": stack.workspace.workspace,
                        "version": "live",
                        "request_id": request_id,
                    }
                    event["headers"] = {"authorization": f"Bearer {stack.workspace.api_key}"}
                requests += _ok(module.lambda_handler(event, FakeLambdaContext()), 200)
        elif name == "sender":
            module = load_function(name)
            context = FakeLambdaContext()
            context.get_remaining_time_in_millis = lambda: 30_000  # type: ignore[method-assign]
            for start in range(0, len(sqs_messages), 10):
                answer = module.lambda_handler({"Records": sqs_messages[start : start + 10]}, context)
                if answer.get("batchItemFailures"):
                    raise RuntimeError(f"the sender failed {answer['batchItemFailures']}")
                requests += 1
    return {"stack_mb": stack_mb, "peak_mb": _rss_mb("VmHWM"), "requests": requests}


def _ok(response: dict[str, Any], expected: int = 202) -> int:
    if response["statusCode"] != expected:
        raise RuntimeError(f"answered {response['statusCode']}: {str(response.get('body'))[:300]}")
    return 1


def measure_memory() -> list[MemoryUse]:
    """One fresh process per function; its figures against the template's MemorySize."""
    from local.template import LocalResources, function_specs

    sizes = {spec.logical_id: spec.memory_size for spec in function_specs(LocalResources(region="us-east-1"))}
    found = []
    for logical_id, name in FUNCTIONS:
        result = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.memory", logical_id, name],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        found.append(
            MemoryUse(logical_id, sizes[logical_id], figures["stack_mb"], figures["peak_mb"], figures["requests"])
        )
    return found


if __name__ == "__main__":
    print(json.dumps(_serve(sys.argv[1], sys.argv[2])))
