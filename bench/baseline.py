"""The designs a user would hand-roll instead of the product, run on the bench's own moto (issue 25).

- API: a Lambda handler behind the same HTTP API event that reads `Idempotency-Key`, parses the body and runs
  one function under Powertools' `idempotent_function` (DynamoDBPersistenceLayer, local cache on), which
  sends the body to SQS in one `SendMessage` and answers 202 with a request id. No authentication, no
  validation, no status record, no routing, no logs or metrics: the least that deduplicates a request.
- Sender: an SQS batch handler that sends each message to SES (`sesv2.SendEmail`), with the same Powertools
  idempotency keyed on the message's `msg_id`, so a message SQS delivers twice is sent once (the product's
  guarantee, R8). A bare handler without that guard is measured too, as context: it can send twice.

Each design gets its own table and queue, created beside the template's in the same moto, and its own boto3
clients with botocore's defaults, as a user's code would have.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import boto3

from bench.harness import REGION

BASELINE_TABLE = "BaselineIdempotencyTable"
BASELINE_QUEUE = "baseline-notifications"
EXPIRY_SECONDS = 24 * 60 * 60


@dataclass
class MinimalDesign:
    """The hand-rolled API handler and sender handlers, and the clients they call (for the bench's hooks)."""

    api_handler: Any
    sender_handler: Any
    bare_sender_handler: Any
    clients: dict[str, Any]  # service -> the client the design calls
    table: str
    queue_url: str


def create_minimal_design(email_from: str) -> MinimalDesign:
    """Inside the bench's mock_aws: the baseline's table and queue, and its handlers (decorated once, at import,
    as a user's module would be)."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    session = boto3.session.Session(region_name=REGION)
    dynamodb, sqs, ses = session.client("dynamodb"), session.client("sqs"), session.client("sesv2")
    dynamodb.create_table(
        TableName=BASELINE_TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    queue_url = sqs.create_queue(QueueName=BASELINE_QUEUE)["QueueUrl"]

    api_config = IdempotencyConfig(event_key_jmespath="key", use_local_cache=True, expires_after_seconds=EXPIRY_SECONDS)
    api_store = DynamoDBPersistenceLayer(table_name=BASELINE_TABLE, boto3_client=dynamodb)

    @idempotent_function(data_keyword_argument="request", persistence_store=api_store, config=api_config)
    def accept(request: dict[str, Any]) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"request_id": request_id, **request["body"]}))
        return {"request_id": request_id}

    def api_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        headers = event.get("headers") or {}
        body = json.loads(event.get("body") or "{}")
        api_config.register_lambda_context(context)
        result = accept(request={"key": headers.get("idempotency-key"), "body": body})
        return {"statusCode": 202, "headers": {"content-type": "application/json"}, "body": json.dumps(result)}

    send_config = IdempotencyConfig(event_key_jmespath="msg_id", expires_after_seconds=EXPIRY_SECONDS)
    send_store = DynamoDBPersistenceLayer(table_name=BASELINE_TABLE, boto3_client=dynamodb)

    def send_email(message: dict[str, Any]) -> str:
        name = message.get("data", {}).get("name", "")
        answer = ses.send_email(
            FromEmailAddress=email_from,
            Destination={"ToAddresses": [message["destination"]]},
            Content={"Simple": {"Subject": {"Data": f"Welcome, {name}"}, "Body": {"Text": {"Data": f"Hi {name}"}}}},
        )
        return str(answer["MessageId"])

    @idempotent_function(data_keyword_argument="message", persistence_store=send_store, config=send_config)
    def send_once(message: dict[str, Any]) -> dict[str, Any]:
        return {"message_id": send_email(message)}

    def sender_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        send_config.register_lambda_context(context)
        failures = []
        for record in event["Records"]:
            try:
                send_once(message=json.loads(record["body"]))
            except Exception:  # a partial batch failure, as SQS's ReportBatchItemFailures wants
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    def bare_sender_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        for record in event["Records"]:
            send_email(json.loads(record["body"]))
        return {"batchItemFailures": []}

    return MinimalDesign(
        api_handler=api_handler,
        sender_handler=sender_handler,
        bare_sender_handler=bare_sender_handler,
        clients={"dynamodb": dynamodb, "sqs": sqs, "sesv2": ses},
        table=BASELINE_TABLE,
        queue_url=queue_url,
    )
