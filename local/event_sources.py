"""Lambda's SQS event source mapping, emulated: long-poll a queue, invoke with a batch, delete what succeeded.

Failed messages (listed in batchItemFailures, or the whole batch when the handler raises or times
out) are left alone: they reappear after the queue's visibility timeout, and SQS (moto) moves them
to the dead-letter queue once they have been received maxReceiveCount times.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
from typing import Any, Protocol

from local.faults import ArmedFaultList
from local.functions import Invocation
from local.template import SqsEventSource

# Lambda polls with 20 s; a short wait keeps Ctrl-C prompt and is still long polling.
LONG_POLL_SECONDS = 2
SQS_RECEIVE_LIMIT = 10


def lambda_sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS message as Lambda hands it to the function (lower-camel keys, base64 binary values)."""
    attributes = {}
    for name, value in message.get("MessageAttributes", {}).items():
        attributes[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": base64.b64encode(value["BinaryValue"]).decode() if "BinaryValue" in value else None,
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": [base64.b64encode(item).decode() for item in value.get("BinaryListValues", [])],
            "dataType": value["DataType"],
        }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": attributes,
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def lambda_sns_record(message: dict[str, Any], topic_arn: str) -> dict[str, Any]:
    """The SNS notification a subscribed queue received, as Lambda's SNS event source hands it to a function."""
    envelope = json.loads(message["Body"])
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": f"{topic_arn}:local",
        "Sns": {
            "Type": envelope.get("Type", "Notification"),
            "MessageId": envelope["MessageId"],
            "TopicArn": envelope.get("TopicArn", topic_arn),
            "Subject": envelope.get("Subject"),
            "Message": envelope["Message"],
            "Timestamp": envelope.get("Timestamp"),
            "MessageAttributes": envelope.get("MessageAttributes", {}),
        },
    }


# Lambda invokes an SNS subscriber asynchronously: a failed invocation is tried twice more, then dropped.
SNS_ATTEMPTS = 3


def failed_message_ids(source: SqsEventSource, invocation: Invocation, batch_ids: list[str]) -> set[str]:
    """The messages of a batch to leave on the queue, by Lambda's rules for the function's answer."""
    if invocation.outcome != "ok":
        return set(batch_ids)
    if not source.report_batch_item_failures:
        return set()
    result = invocation.result
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if not failures:
        return set()
    failed = {item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures}
    # An identifier that is empty or not in the batch makes Lambda treat the whole batch as failed.
    if not failed <= set(batch_ids):
        return set(batch_ids)
    return {str(message_id) for message_id in failed}


class Invoker(Protocol):
    """What runs the function: its worker pool (`make run`), or SAM CLI's start-lambda (`make run-sam`)."""

    def invoke(self, event: dict[str, Any], faults: list[dict[str, str]] | None = None) -> Invocation: ...


class BatchObserver(Protocol):
    """Told of each invocation's records and the message ids left on the queue (the outbox's timeline)."""

    def __call__(self, records: list[dict[str, Any]], failed_message_ids: set[str], received_at: float) -> None: ...


class SqsPoller:
    """One event source mapping: a thread polling `queue_url` and invoking the function."""

    def __init__(
        self,
        source: SqsEventSource,
        queue: dict[str, str],
        pool: Invoker,
        faults: ArmedFaultList,
        sqs: Any,
        region: str,
        on_batch: BatchObserver | None = None,
    ) -> None:
        self.source = source
        self.on_batch = on_batch
        self.faults = faults
        self.queue = queue
        self.pool = pool
        self.sqs = sqs
        self.region = region
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"sqs-{source.function}")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=LONG_POLL_SECONDS + 5)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                batch = self._collect_batch()
                if batch:
                    self._deliver(batch)
            except Exception as exc:  # a poller survives a bad moment of the queue, as Lambda's does
                print("sqs event source:", self.source.function, type(exc).__name__, exc, file=sys.stderr)
                self._stopping.wait(1)

    def _receive(self, limit: int, wait_seconds: int) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue["url"],
            MaxNumberOfMessages=min(limit, SQS_RECEIVE_LIMIT),
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def _collect_batch(self) -> list[dict[str, Any]]:
        """Up to BatchSize messages, waiting at most MaximumBatchingWindowInSeconds for a batch to fill."""
        batch = {m["MessageId"]: m for m in self._receive(self.source.batch_size, LONG_POLL_SECONDS)}
        if not batch or self.source.batching_window_seconds == 0:
            return list(batch.values())
        window_ends = time.monotonic() + self.source.batching_window_seconds
        while len(batch) < self.source.batch_size and not self._stopping.is_set():
            remaining = window_ends - time.monotonic()
            if remaining <= 0:
                break
            more = self._receive(self.source.batch_size - len(batch), min(int(remaining), LONG_POLL_SECONDS))
            # A message seen again (visibility shorter than the window) counts once, with its newest receipt.
            batch.update((m["MessageId"], m) for m in more)
        return list(batch.values())

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        if self.source.sns_topic_arn is not None:
            self._deliver_sns(batch, self.source.sns_topic_arn)
            return
        records = [lambda_sqs_record(message, self.queue["arn"], self.region) for message in batch]
        received_at = time.time()
        invocation = self.pool.invoke({"Records": records}, self.faults.snapshot())
        failed = failed_message_ids(self.source, invocation, [m["MessageId"] for m in batch])
        if self.on_batch is not None:
            self.on_batch(records, failed, received_at)
        done = [m for m in batch if m["MessageId"] not in failed]
        for start in range(0, len(done), SQS_RECEIVE_LIMIT):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(done[start : start + SQS_RECEIVE_LIMIT])
            ]
            self.sqs.delete_message_batch(QueueUrl=self.queue["url"], Entries=entries)

    def _deliver_sns(self, batch: list[dict[str, Any]], topic_arn: str) -> None:
        """One SNS notification per invocation; a failed one comes back (visibility) until SNS_ATTEMPTS."""
        for message in batch:
            invocation = self.pool.invoke({"Records": [lambda_sns_record(message, topic_arn)]}, self.faults.snapshot())
            receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            if invocation.outcome == "ok" or receives >= SNS_ATTEMPTS:
                self.sqs.delete_message(QueueUrl=self.queue["url"], ReceiptHandle=message["ReceiptHandle"])
