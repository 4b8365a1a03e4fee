"""Lambda's SQS event source, played without sleeping: receive up to 10 messages, invoke the function with them
as one batch, delete what succeeded and make what failed visible again at once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from tests.support.stack import CountdownLambdaContext, sample_event


def receive_batch(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    return sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])


def invoke_with_batch(
    sqs: Any,
    queue: dict[str, str],
    received: list[dict[str, Any]],
    module: Any,
    function_name: str,
    remaining_ms: int = 30_000,
) -> None:
    """`queue` is the stack's `{"url": ..., "arn": ...}`; the visibility timeout (or the delay the function set) of
    a failed message passes at once."""
    envelope = sample_event("sender/sqs_batch.json")["Records"][0]
    event = {
        "Records": [
            {
                **envelope,
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "md5OfBody": m["MD5OfBody"],
                "attributes": m["Attributes"],
                "eventSourceARN": queue["arn"],
            }
            for m in received
        ]
    }
    context = CountdownLambdaContext(remaining_ms=remaining_ms)
    context.function_name = function_name
    try:
        response = module.lambda_handler(event, context)
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    except BatchProcessingError:
        # Powertools fails the invocation when every record failed; SQS then returns them all.
        failed = {m["MessageId"] for m in received}
    for m in received:
        if m["MessageId"] in failed:
            sqs.change_message_visibility(QueueUrl=queue["url"], ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        else:
            sqs.delete_message(QueueUrl=queue["url"], ReceiptHandle=m["ReceiptHandle"])
