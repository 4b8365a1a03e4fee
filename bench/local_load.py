"""Load on the local stack (`python -m local`) over loopback HTTP: throughput and latency, and one big bulk.

The stack runs with LOCAL_SQS_EVENT_SOURCES=off: on a small machine the senders would compete with
the API workers for CPU, and this measures the API. Loops are bounded by count and by time.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from bench.aws_calls import BULK_RECIPIENTS, WELCOME, bulk_body
from bench.stats import LatencySummary, summarize
from local import process
from local.template import ROOT

CLIENTS = 16
PHASE_SECONDS = 15.0
PHASE_MAX_REQUESTS = 4000
WARMUP_SECONDS = 3.0
READY_TIMEOUT_SECONDS = 90
REQUEST_TIMEOUT_SECONDS = 60
SQS_EVENT_SOURCES = "off"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


class LocalStackProcess(process.LocalStackProcess):
    """The shared launcher (local.process) with what the load phases need."""

    def empty_notification_queue(self, max_receives: int = 500) -> None:
        """Receive and delete what NotificationQueue holds. moto's SendMessage reads every message already on
        the queue (it builds the queue's attributes on each send), so with no senders draining it, what one
        phase left would slow the next. PurgeQueue would do, but SQS allows it once a minute."""
        sqs = boto3.client(
            "sqs",
            endpoint_url=self.moto_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto accepts any credentials
        )
        url = sqs.get_queue_url(QueueName="NotificationQueue")["QueueUrl"]
        for _ in range(max_receives):
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return
            entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)

    def post(self, path: str, body: Any, headers: dict[str, str]) -> HttpAnswer:
        connection = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=REQUEST_TIMEOUT_SECONDS)
        try:
            connection.request("POST", path, body=json.dumps(body), headers=headers)
            response = connection.getresponse()
            return HttpAnswer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()


@contextlib.contextmanager
def running_local_stack() -> Iterator[LocalStackProcess]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-local-stack-"))
    environment = process.local_stack_environment(
        LOCAL_SQS_EVENT_SOURCES=SQS_EVENT_SOURCES,
        LOCAL_SAM_ENV_FILE=str(workdir / "local-env.json"),
        # This checkout's shared package, not the one the virtualenv's .pth points at.
        PYTHONPATH=os.pathsep.join([str(ROOT / "layers"), str(ROOT)]),
    )
    stack = LocalStackProcess(environment, workdir / "stack.log")
    try:
        stack.wait_until_ready(READY_TIMEOUT_SECONDS)
        yield stack
    finally:
        code = stack.stop()
        if code != 0:
            print(f"local stack exited with {code}; log: {stack.log_path}", file=sys.stderr)


@dataclass(frozen=True)
class LoadPhase:
    name: str
    requests: int
    seconds: float
    statuses: Counter[int]
    latency: LatencySummary

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "clients": CLIENTS,
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "requests_per_second": round(self.throughput, 1),
            "statuses": {str(code): n for code, n in sorted(self.statuses.items())},
            "latency": self.latency.as_dict(),
        }


@dataclass(frozen=True)
class BulkCall:
    recipients: int
    seconds: float
    status: int
    items: int

    @property
    def accepted_all(self) -> bool:
        return self.status == 202 and self.items == self.recipients

    def as_dict(self) -> dict[str, Any]:
        return {
            "recipients": self.recipients,
            "seconds": round(self.seconds, 3),
            "status": self.status,
            "items": self.items,
            "accepted_all": self.accepted_all,
        }


@dataclass(frozen=True)
class LocalLoad:
    sqs_event_sources: str
    new_keys: LoadPhase
    replays: LoadPhase
    bulks: list[BulkCall]
    moto_read_timeouts: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "sqs_event_sources": self.sqs_event_sources,
            "new_keys": self.new_keys.as_dict(),
            "replays": self.replays.as_dict(),
            "bulk_calls": [bulk.as_dict() for bulk in self.bulks],
            "moto_read_timeouts_in_function_logs": self.moto_read_timeouts,
        }


def _headers(api_key: str, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json", "Idempotency-Key": key}


def _run_clients(
    seconds: float, max_requests: int, send: Callable[[int], int]
) -> tuple[list[float], Counter[int], float]:
    """CLIENTS threads call `send(client_number)` until the time or the request budget is spent."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    budget = iter(range(max_requests))
    deadline = time.monotonic() + seconds

    def client(number: int) -> None:
        while time.monotonic() < deadline:
            with lock:
                if next(budget, None) is None:
                    return
            started = time.perf_counter()
            status = send(number)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[status] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses, time.perf_counter() - started


def _timed_bulk(stack: LocalStackProcess, path: str, api_key: str, recipients: int) -> BulkCall:
    stack.empty_notification_queue()
    started = time.perf_counter()
    answer = stack.post(path, bulk_body(recipients), _headers(api_key, f"bench-{uuid.uuid4()}"))
    seconds = time.perf_counter() - started
    items = len(json.loads(answer.body).get("response", [])) if answer.status == 202 else 0
    return BulkCall(recipients, seconds, answer.status, items)


def measure_local_load(workspace: str, api_key: str) -> LocalLoad:
    """Bulk calls of 100 and 1000 recipients, then new keys, then replays of one key per client."""
    event_path = f"/v1/{workspace}/live/event"
    bulk_path = f"/v1/{workspace}/live/event/bulk"
    with running_local_stack() as stack:
        # Starts a Bulk worker (Lambda's init), which is not what the timed call measures.
        _timed_bulk(stack, bulk_path, api_key, 1)
        bulks = [_timed_bulk(stack, bulk_path, api_key, recipients) for recipients in (100, BULK_RECIPIENTS)]

        def send_new(_: int) -> int:
            return stack.post(event_path, WELCOME, _headers(api_key, f"bench-{uuid.uuid4()}")).status

        # Starts every Event API worker, which is not what the phases measure.
        _run_clients(WARMUP_SECONDS, PHASE_MAX_REQUESTS, send_new)
        stack.empty_notification_queue()
        latencies, statuses, elapsed = _run_clients(PHASE_SECONDS, PHASE_MAX_REQUESTS, send_new)
        new_keys = LoadPhase("new keys", len(latencies), elapsed, statuses, summarize(latencies))

        replay_keys = [f"bench-replay-{n}-{uuid.uuid4()}" for n in range(CLIENTS)]
        for key in replay_keys:
            stack.post(event_path, WELCOME, _headers(api_key, key))

        def send_replay(number: int) -> int:
            answer = stack.post(event_path, WELCOME, _headers(api_key, replay_keys[number]))
            replayed = answer.headers.get("idempotency-replayed") == "true"
            return answer.status if replayed else -answer.status  # a negative status: not a replay

        latencies, statuses, elapsed = _run_clients(PHASE_SECONDS, PHASE_MAX_REQUESTS, send_replay)
        replays = LoadPhase("replays", len(latencies), elapsed, statuses, summarize(latencies))
    # Evidence for a failed bulk: the functions log each AWS call to moto that hit the client's read timeout.
    moto_read_timeouts = stack.log_path.read_text().count("Read timeout on endpoint")
    return LocalLoad(SQS_EVENT_SOURCES, new_keys, replays, bulks, moto_read_timeouts)
