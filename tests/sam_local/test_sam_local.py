"""The Event contract and delivery through `make run-sam`: the built artifacts (layer under /opt, handler paths,
environment, template) in Lambda containers behind `sam local start-api`, the sender behind start-lambda."""

from __future__ import annotations

import json
import uuid

from tests.support.local_stack import (
    INVALID_API_DETAILS,
    LocalStackProcess,
    assert_executed,
    assert_replayed,
    emails_to,
    headers,
    notification_states,
    status_of,
    wait_for,
)
from tests.support.local_stack import WORKSPACE_1 as WORKSPACE

# Containers start and import on the first request of each function, and the sender's on its first message.
DELIVERY_TIMEOUT_SECONDS = 90


def event_body(address: str) -> str:
    return json.dumps({"event": "Welcome_Email", "to": {"email": address}, "data": {"name": "Rahul"}})


def test_banner_prints_the_seeded_keys_and_a_curl_like_make_run(sam_stack: LocalStackProcess) -> None:
    banner = "\n".join(sam_stack.banner)
    assert "workspace WSLOCAL0001   API key local-key-0001-aaaaaaaaaaaaaaaaaaaa" in banner
    assert "workspace WSLOCAL0002   API key local-key-0002-bbbbbbbbbbbbbbbbbbbb" in banner
    assert f"curl -i -X POST http://127.0.0.1:{sam_stack.api_port}/v1/WSLOCAL0001/live/event" in banner
    assert "Lambda containers" in banner
    assert sam_stack.banner[-1].startswith("local stack ready on")


def test_R4_same_key_replays_the_identical_body_from_a_container(sam_stack: LocalStackProcess) -> None:
    key = str(uuid.uuid4())
    body = event_body(f"replay-{uuid.uuid4().hex[:8]}@example.com")
    first = sam_stack.request("POST", f"/v1/{WORKSPACE}/live/event", body, headers(key))
    second = sam_stack.request("POST", f"/v1/{WORKSPACE}/live/event", body, headers(key))

    assert_executed(first)
    assert first.headers["content-type"] == "application/json"
    assert set(first.json()) == {"event", "received_time", "request_id", "response"}
    assert_replayed(second, first)


def test_auth_failure_is_401_invalid_api_details(sam_stack: LocalStackProcess) -> None:
    body = event_body("rahul@example.com")
    result = sam_stack.request(
        "POST", f"/v1/{WORKSPACE}/live/event", body, headers(str(uuid.uuid4()), api_key="local-key-unknown")
    )
    assert (result.status, result.json()) == (401, INVALID_API_DETAILS)


def test_invalid_body_is_400_naming_each_field(sam_stack: LocalStackProcess) -> None:
    body = json.dumps({"event": "Welcome_Email", "to": {"email": "not-an-address"}})
    result = sam_stack.request("POST", f"/v1/{WORKSPACE}/live/event", body, headers(str(uuid.uuid4())))

    assert result.status == 400
    answer = result.json()
    assert answer["status"] == "error" and answer["_message"]
    assert [error["field"] for error in answer["errors"]] == ["to.email"]


def test_unknown_event_is_400(sam_stack: LocalStackProcess) -> None:
    body = json.dumps({"event": "No_Such_Event", "to": {"email": "rahul@example.com"}})
    result = sam_stack.request("POST", f"/v1/{WORKSPACE}/live/event", body, headers(str(uuid.uuid4())))

    assert (result.status, result.json()) == (
        400,
        {"_message": "The notification event name 'No_Such_Event' is invalid or does not exist", "status": "error"},
    )


def test_R8_a_request_sent_three_times_with_one_key_delivers_one_email(sam_stack: LocalStackProcess) -> None:
    address = f"once-{uuid.uuid4().hex[:8]}@example.com"
    key = str(uuid.uuid4())
    answers = [
        sam_stack.request("POST", f"/v1/{WORKSPACE}/live/event", event_body(address), headers(key)) for _ in range(3)
    ]
    assert [answer.status for answer in answers] == [202] * 3
    assert len({answer.body for answer in answers}) == 1
    request_id = answers[0].json()["request_id"]

    wait_for(
        lambda: notification_states(sam_stack, request_id) == ["sent"],
        timeout=DELIVERY_TIMEOUT_SECONDS,
        message="the sender's container delivers the email",
    )
    (email,) = emails_to(sam_stack, address)
    assert email["subject"] == "Welcome Rahul"

    status = status_of(sam_stack, request_id)
    assert status.status == 200
    (notification,) = status.json()["notifications"]
    assert (notification["channel"], notification["state"]) == ("email", "sent")
    assert notification["msg_id"] == answers[0].json()["response"]["email"]["msg_id"]

    # The outbox of `make run` is served here too; SAM CLI serves the API, so replays are not counted (n/a).
    listed = sam_stack.outbox(f"/?refresh=off&request_id={request_id}")
    assert listed.status == 200
    assert address in listed.text and 'class="state state-sent"' in listed.text and ">n/a<" in listed.text
    message = sam_stack.outbox(f"/message/{request_id}/{notification['msg_id']}")
    assert '<dd id="subject">Welcome Rahul</dd>' in message.text


def test_status_route_is_404_for_an_unknown_request(sam_stack: LocalStackProcess) -> None:
    result = status_of(sam_stack, str(uuid.uuid4()))
    assert result.status == 404
    assert result.json()["status"] == "error"


def test_routes_answer_with_a_trailing_slash_and_unknown_ones_in_the_error_shape(sam_stack: LocalStackProcess) -> None:
    """Fyno's Node SDK posts to `.../profiles/`; SAM CLI serves the template's twins and its $default route too."""
    body = json.dumps({"distinct_id": f"sam-{uuid.uuid4()}", "channel": {"email": "sam@example.com"}})
    created = sam_stack.request("POST", f"/v1/{WORKSPACE}/live/profiles/", body, headers())
    assert created.status == 201
    unknown = sam_stack.request("GET", f"/v1/{WORKSPACE}/live/nothing-here")
    assert (unknown.status, unknown.json()) == (404, {"_message": "Not found", "status": "error"})
    wrong = sam_stack.request("GET", f"/v1/{WORKSPACE}/live/event")
    assert (wrong.status, wrong.headers.get("allow")) == (405, "POST")
