"""The local stack's emulation of API Gateway HTTP API, Lambda and SQS event sources (a test-only template)."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support.local_stack import LocalStackProcess, wait_for

pytestmark = pytest.mark.integration


def test_payload_v2_event_carries_request_as_api_gateway_sends_it(emulator_stack: LocalStackProcess) -> None:
    result = emulator_stack.request(
        "GET",
        "/echo/a%20b/c?x=1&y=2&x=3",
        headers={"X-Custom": "Value", "Cookie": "a=1; b=2", "User-Agent": "tests/1.0"},
    )

    assert result.status == 201
    assert result.headers["x-echo"] == "yes"
    assert result.headers["set-cookie"] == "flavour=oat; Path=/"
    event = result.json()["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /echo/{proxy+}"
    assert event["rawPath"] == "/echo/a%20b/c"
    assert event["rawQueryString"] == "x=1&y=2&x=3"
    assert event["queryStringParameters"] == {"x": "1,3", "y": "2"}
    assert event["pathParameters"] == {"proxy": "a b/c"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-custom"] == "Value"
    assert "cookie" not in event["headers"]
    context = event["requestContext"]
    assert context["http"] == {
        "method": "GET",
        "path": "/echo/a%20b/c",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tests/1.0",
    }
    assert context["stage"] == "$default"
    assert context["routeKey"] == "GET /echo/{proxy+}"
    assert context["requestId"] == result.headers["apigw-requestid"]
    assert {"accountId", "apiId", "domainName", "time", "timeEpoch"} <= context.keys()
    assert "body" not in event


def test_text_body_passes_as_text_and_binary_body_as_base64(emulator_stack: LocalStackProcess) -> None:
    text = emulator_stack.request("POST", "/items/42", '{"a": 1}', {"Content-Type": "application/json"})
    binary = emulator_stack.request("POST", "/items/43", b"\x00\xffraw", {"Content-Type": "application/octet-stream"})

    text_event = text.json()["event"]
    assert text_event["pathParameters"] == {"item_id": "42"}
    assert (text_event["body"], text_event["isBase64Encoded"]) == ('{"a": 1}', False)
    binary_event = binary.json()["event"]
    assert base64.b64decode(binary_event["body"]) == b"\x00\xffraw"
    assert binary_event["isBase64Encoded"] is True


def test_most_specific_route_wins(emulator_stack: LocalStackProcess) -> None:
    result = emulator_stack.request("POST", "/items/special", "{}", {"Content-Type": "application/json"})

    assert result.json()["event"]["routeKey"] == "POST /items/special"


def test_unknown_route_and_wrong_method_are_404(emulator_stack: LocalStackProcess) -> None:
    for method, path in (("GET", "/nowhere"), ("DELETE", "/items/1"), ("GET", "/echo")):
        result = emulator_stack.request(method, path)
        assert (result.status, result.json()) == (404, {"message": "Not Found"}), (method, path)


def test_unhandled_exception_is_500_internal_server_error(emulator_stack: LocalStackProcess) -> None:
    result = emulator_stack.request("POST", "/boom")

    assert (result.status, result.json()) == (500, {"message": "Internal Server Error"})


def test_timeout_kills_the_worker_and_answers_500_like_a_lambda_timeout(emulator_stack: LocalStackProcess) -> None:
    started = time.monotonic()
    result = emulator_stack.request("GET", "/slow")

    assert (result.status, result.json()) == (500, {"message": "Internal Server Error"})
    assert time.monotonic() - started < 10  # the template's Timeout (1 s), not the handler's 30 s sleep
    assert emulator_stack.request("GET", "/echo/after").status == 201


def test_binary_response_is_decoded_and_plain_result_is_a_json_200(emulator_stack: LocalStackProcess) -> None:
    binary = emulator_stack.request("GET", "/binary")
    plain = emulator_stack.request("GET", "/plain")

    assert (binary.status, binary.headers["content-type"], binary.body) == (200, "image/png", b"\x89PNG\x00\xff")
    assert (plain.status, plain.json()) == (200, {"plain": True})


def test_function_sees_only_its_template_environment_and_its_code_path(emulator_stack: LocalStackProcess) -> None:
    seen = emulator_stack.request("GET", "/echo/env").json()
    environment = seen["environment"]

    assert environment["SHARED_SETTING"] == "from-globals"
    assert environment["ECHO_ONLY"] == "echo-setting"
    assert environment["PROCESSED_TABLE"] == "ProcessedTable"
    assert "CONSUMER_ONLY" not in environment
    assert "LOCAL_STACK_ONLY_VARIABLE" not in environment
    assert environment["AWS_ENDPOINT_URL"] == emulator_stack.moto_url
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == seen["function_name"] == "EchoFunction"
    assert seen["code_path"].endswith("fixtures/emulator/echo")
    assert seen["cwd"] == seen["code_path"]
    assert 0 < seen["remaining_ms"] <= 1000


def test_concurrent_requests_run_in_parallel_workers(emulator_stack: LocalStackProcess) -> None:
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: emulator_stack.request("GET", f"/echo/{i}"), range(8)))

    assert {result.status for result in results} == {201}


def test_fault_injection_rejects_an_unknown_fault(emulator_stack: LocalStackProcess) -> None:
    result = emulator_stack.request("POST", "/_local/faults", json.dumps({"service": "sqs", "error": "meteor"}))

    assert result.status == 400


# SQS event source ----------------------------------------------------------------------------


def attempts(stack: LocalStackProcess) -> list[dict[str, Any]]:
    """Every recorded handler attempt: body, batch size, receive count and the record as received."""
    items = stack.client("dynamodb").scan(TableName="ProcessedTable", ConsistentRead=True)["Items"]
    return [
        {
            "body": item["body"]["S"],
            "batch_size": int(item["batch_size"]["N"]),
            "receive_count": int(item["attempt"]["S"].rsplit("#", 1)[1]),
            "record": json.loads(item["record"]["S"]),
        }
        for item in items
    ]


def send(stack: LocalStackProcess, queue: str, bodies: list[str]) -> None:
    entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
    stack.client("sqs").send_message_batch(QueueUrl=stack.queue_url(queue), Entries=entries)


def queue_is_empty(stack: LocalStackProcess, queue: str) -> bool:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_url(queue),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_sqs_batches_honour_batch_size_and_carry_lambda_records(emulator_stack: LocalStackProcess) -> None:
    bodies = [f"ok-batch-{i}" for i in range(7)]
    send(emulator_stack, "WorkQueue", bodies)

    done = wait_for(
        lambda: (
            [a for a in attempts(emulator_stack) if a["body"] in bodies]
            if queue_is_empty(emulator_stack, "WorkQueue")
            else []
        ),
        message="all 7 messages processed and deleted",
    )

    assert sorted(a["body"] for a in done) == sorted(bodies)
    assert max(a["batch_size"] for a in done) <= 3
    record = done[0]["record"]
    queue_arn = emulator_stack.client("sqs").get_queue_attributes(
        QueueUrl=emulator_stack.queue_url("WorkQueue"), AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue_arn
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"messageId", "receiptHandle", "body", "md5OfBody", "messageAttributes"} <= record.keys()


def peek_bodies(stack: LocalStackProcess, queue: str) -> list[str]:
    messages = (
        stack.client("sqs")
        .receive_message(QueueUrl=stack.queue_url(queue), MaxNumberOfMessages=10, VisibilityTimeout=0)
        .get("Messages", [])
    )
    return [message["Body"] for message in messages]


def test_sqs_reported_item_failure_retries_only_that_message_then_dead_letters_it(
    emulator_stack: LocalStackProcess,
) -> None:
    send(emulator_stack, "WorkQueue", ["ok-partial", "fail"])

    wait_for(lambda: "fail" in peek_bodies(emulator_stack, "WorkDLQ"), timeout=30, message="failed message in the DLQ")

    seen = attempts(emulator_stack)
    assert sorted(a["receive_count"] for a in seen if a["body"] == "fail") == [1, 2]
    assert [a["receive_count"] for a in seen if a["body"] == "ok-partial"] == [1]
    assert "ok-partial" not in peek_bodies(emulator_stack, "WorkDLQ")
    wait_for(lambda: queue_is_empty(emulator_stack, "WorkQueue"), message="work queue empty")


def test_sqs_exception_or_timeout_retries_the_whole_batch(emulator_stack: LocalStackProcess) -> None:
    send(emulator_stack, "WorkQueue", ["ok-with-raise", "raise"])
    send(emulator_stack, "WorkQueue", ["sleep"])

    wait_for(
        lambda: {"raise", "sleep"} <= set(peek_bodies(emulator_stack, "WorkDLQ")),
        timeout=40,
        message="failing batches in the DLQ",
    )

    seen = attempts(emulator_stack)
    assert max(a["receive_count"] for a in seen if a["body"] == "ok-with-raise") >= 2
    assert max(a["receive_count"] for a in seen if a["body"] == "sleep") == 2
