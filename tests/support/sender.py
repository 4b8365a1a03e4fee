"""The Sender function driven as Lambda's SQS event source drives it, without sleeping."""

from __future__ import annotations

import json
from typing import Any

import pytest

from notify.logic.providers.webhooks import HttpClient
from tests.support.event_source import invoke_with_batch, receive_batch
from tests.support.stack import REGION, Stack, load_function


class SenderDriver:
    """Plays Lambda's SQS event source for the Sender function: receive a batch, invoke, delete what
    succeeded, report what failed. The visibility timeout of a failed message passes at once (no sleeps)."""

    def __init__(self, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
        self.stack = stack
        self.monkeypatch = monkeypatch
        self.module = load_function("sender")
        self.module.providers.cache_clear()
        self.sqs = stack.session.client("sqs", region_name=REGION)
        self.in_flight: list[str] = []
        self.invocations = 0
        # What each invocation starts with of the function's 30 s timeout (running down as it works).
        self.remaining_ms = 30_000

    def use_http(self, http: HttpClient) -> None:
        """Chat webhooks and the Slack API go through `http` (an injected opener: no network)."""
        from notify.logic.providers import Providers

        self.monkeypatch.setattr(self.module, "providers", lambda: Providers(http=http))

    def run_once(self) -> int:
        """One invocation with up to 10 messages; returns how many were received."""
        received = receive_batch(self.sqs, self.stack.queue_url)
        if not received:
            return 0
        self.in_flight = [m["ReceiptHandle"] for m in received]
        self.invocations += 1
        queue = self.stack.resources.queues["NotificationQueue"]
        invoke_with_batch(self.sqs, queue, received, self.module, "SenderFunction", self.remaining_ms)
        self.in_flight = []
        return len(received)

    def expire_in_flight(self) -> None:
        """The visibility timeout of an invocation that died passes: its messages come back."""
        for handle in self.in_flight:
            self.sqs.change_message_visibility(QueueUrl=self.stack.queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
        self.in_flight = []

    def drain(self, max_invocations: int = 50) -> int:
        """Invoke until the queue is empty (failed messages come back until they reach the DLQ)."""
        for invocations in range(max_invocations):
            if self.run_once() == 0:
                return invocations
        raise AssertionError("the queue did not drain")

    def requeue(self, body: dict[str, Any]) -> None:
        """Put a message on the queue again, as SQS does when it delivers one twice."""
        self.sqs.send_message(QueueUrl=self.stack.queue_url, MessageBody=json.dumps(body))

    def queue_depth(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.stack.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def dead_letters(self) -> list[dict[str, Any]]:
        url = self.stack.resources.queues["NotificationDLQ"]["url"]
        messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]
