"""From curl to inbox over `python -m local` with its SQS consumers on: senders deliver each msg_id once (R8),
and the status route shows it (docs/contract.md section 4)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from functools import partial

import pytest

from tests.support.local_stack import (
    API_KEY_2,
    WORKSPACE_2,
    LocalStackProcess,
    emails_to,
    headers,
    notification_states,
    start_local_stack,
    status_of,
    wait_for,
)
from tests.support.local_stack import (
    WORKSPACE_1 as WORKSPACE,
)
from tests.support.reports import Receiver, verify_signature

pytestmark = pytest.mark.integration

OTHER_WORKSPACE, OTHER_API_KEY = WORKSPACE_2, API_KEY_2


@pytest.fixture(scope="module")
def delivering_stack() -> Iterator[LocalStackProcess]:
    """The product's template with every SQS event source running, as `make run` serves it."""
    stack = start_local_stack()
    yield stack
    assert stack.stop() == 0, f"local stack did not stop cleanly; log: {stack.log_path}"


def sent(stack: LocalStackProcess, request_id: str) -> bool:
    """Whether the request's only notification was sent."""
    return notification_states(stack, request_id) == ["sent"]


def test_R8_demo_curl_sends_exactly_one_email_however_often_it_is_repeated(
    delivering_stack: LocalStackProcess,
) -> None:
    address = f"rahul-{uuid.uuid4().hex[:8]}@example.com"
    body = json.dumps({"event": "Welcome_Email", "to": {"email": address}, "data": {"name": "Rahul"}})
    key = str(uuid.uuid4())
    answers = [delivering_stack.request("POST", f"/v1/{WORKSPACE}/live/event", body, headers(key)) for _ in range(5)]
    assert [a.status for a in answers] == [202] * 5
    assert len({a.body for a in answers}) == 1
    request_id = answers[0].json()["request_id"]

    wait_for(lambda: notification_states(delivering_stack, request_id) == ["sent"], message="the email is sent")
    (email,) = emails_to(delivering_stack, address)
    assert email["subject"] == "Welcome Rahul"
    assert email["source"] == "notifications@example.com"

    status = status_of(delivering_stack, request_id).json()
    (notification,) = status["notifications"]
    assert notification["channel"] == "email"
    assert notification["msg_id"] == answers[0].json()["response"]["email"]["msg_id"]
    assert address not in json.dumps(status)  # the status route masks destinations
    assert notification["provider_message_id"]

    for _ in range(3):  # more retries, later: still one email
        assert delivering_stack.request("POST", f"/v1/{WORKSPACE}/live/event", body, headers(key)).status == 202
    assert len(emails_to(delivering_stack, address)) == 1


def test_R8_test_version_goes_to_the_sandbox_and_never_to_ses(delivering_stack: LocalStackProcess) -> None:
    address = f"sandbox-{uuid.uuid4().hex[:8]}@example.com"
    body = json.dumps({"event": "Welcome_Email", "to": {"email": address}, "data": {"name": "T"}})
    answer = delivering_stack.request("POST", f"/v1/{WORKSPACE}/test/event", body, headers())
    assert answer.status == 202
    request_id = answer.json()["request_id"]

    def sandboxed() -> bool:
        result = delivering_stack.request("GET", f"/v1/{WORKSPACE}/test/request/{request_id}", headers=headers())
        return result.status == 200 and result.json()["notifications"][0]["state"] == "sent"

    wait_for(sandboxed, message="the sandbox delivery is recorded")
    assert emails_to(delivering_stack, address) == []


def test_status_route_is_404_for_another_workspace(delivering_stack: LocalStackProcess) -> None:
    body = json.dumps({"event": "Welcome_Email", "to": {"email": "iso@example.com"}, "data": {"name": "I"}})
    request_id = delivering_stack.request("POST", f"/v1/{WORKSPACE}/live/event", body, headers()).json()["request_id"]
    theirs = status_of(delivering_stack, request_id, workspace=OTHER_WORKSPACE, api_key=OTHER_API_KEY)
    assert theirs.status == 404
    assert theirs.json()["status"] == "error"
    assert status_of(delivering_stack, str(uuid.uuid4())).status == 404


def test_bulk_items_are_each_delivered_once_and_visible_per_item(delivering_stack: LocalStackProcess) -> None:
    tag = uuid.uuid4().hex[:8]
    batch = [{"to": {"email": f"bulk{i}-{tag}@example.com"}, "data": {"name": f"N{i}"}} for i in range(1, 4)]
    body = json.dumps({"event": "Welcome_Email", "batch": batch})
    key = str(uuid.uuid4())
    first = delivering_stack.request("POST", f"/v1/{WORKSPACE}/live/event/bulk", body, headers(key))
    again = delivering_stack.request("POST", f"/v1/{WORKSPACE}/live/event/bulk", body, headers(key))
    assert first.status == 202 and again.body == first.body
    for item in first.json()["response"]:
        wait_for(partial(sent, delivering_stack, item["request_id"]))
    for i in range(1, 4):
        assert len(emails_to(delivering_stack, f"bulk{i}-{tag}@example.com")) == 1


def test_onboarding_automation_sends_its_first_step_at_once(delivering_stack: LocalStackProcess) -> None:
    address = f"onboard-{uuid.uuid4().hex[:8]}@example.com"
    payload = json.dumps({"email": address, "name": "Rahul", "order": {"id": "A-1", "amount": "9 EUR"}})
    answer = delivering_stack.request(
        "POST", f"/v1/{WORKSPACE}/live/automation/onboarding/trigger", payload, headers(str(uuid.uuid4()))
    )
    assert answer.status == 202
    request_id = answer.json()["request_id"]
    wait_for(lambda: emails_to(delivering_stack, address), message="step 1's welcome email")
    states = notification_states(delivering_stack, request_id)
    assert sorted(states) == ["queued", "sent"]  # step 2 waits for its 60 s delay
    (email,) = emails_to(delivering_stack, address)
    assert email["subject"] == "Welcome Rahul"


def test_R8_an_event_by_distinct_id_delivers_one_email_to_the_profile_and_replays_after_the_profile_changed(
    delivering_stack: LocalStackProcess,
) -> None:
    """docs/contract.md section 6: the profile's address gets exactly one email; a replay after the profile
    changed answers the same body and sends nothing to the new address."""
    distinct_id = f"it-{uuid.uuid4()}"
    first_address = f"profile-{uuid.uuid4().hex[:8]}@example.com"
    second_address = f"changed-{uuid.uuid4().hex[:8]}@example.com"
    profile = json.dumps({"distinct_id": distinct_id, "channel": {"email": first_address}})
    assert delivering_stack.request("POST", f"/v1/{WORKSPACE}/live/profiles", profile, headers()).status == 201
    body = json.dumps({"event": "Welcome_Email", "distinct_id": distinct_id, "data": {"name": "Rahul"}})
    key = str(uuid.uuid4())

    first = delivering_stack.request("POST", f"/v1/{WORKSPACE}/live/event", body, headers(key))
    assert first.status == 202, first.text
    request_id = first.json()["request_id"]
    wait_for(lambda: notification_states(delivering_stack, request_id) == ["sent"], message="the email is sent")

    change = json.dumps({"channel": {"email": second_address}})
    path = f"/v1/{WORKSPACE}/live/profiles/{distinct_id}/channel"
    assert delivering_stack.request("PATCH", path, change, headers()).status == 200
    replay = delivering_stack.request("POST", f"/v1/{WORKSPACE}/live/event", body, headers(key))

    assert (replay.status, replay.body, replay.headers["idempotency-replayed"]) == (202, first.body, "true")
    (email,) = emails_to(delivering_stack, first_address)
    assert email["subject"] == "Welcome Rahul"
    assert emails_to(delivering_stack, second_address) == []


def test_a_callback_with_a_custom_id_is_reported_signed_to_a_receiver_on_loopback(
    delivering_stack: LocalStackProcess,
) -> None:
    """Delivery reports end to end as on `make run` (docs/api.md, "Delivery reports"): the admin command allowlists a
    receiver on 127.0.0.1 (the local stack alone allows http there), the sender queues the report, the Reporter
    POSTs it signed with Standard Webhooks headers."""
    receiver = Receiver()
    try:
        added = delivering_stack.admin(
            "add-callback-url", "--workspace", WORKSPACE, "--name", "loopback", "--url", receiver.url, "--default"
        )
        assert added.returncode == 0, added.stderr
        secret = re.search(r"^signing secret: (whsec_\S+)$", added.stdout, re.MULTILINE)
        assert secret, added.stdout
        address = f"reported-{uuid.uuid4().hex[:8]}@example.com"
        body = {
            "event": "Welcome_Email",
            "to": {"email": address},
            "data": {"name": "R"},
            "callback": {"custom_id": "order-42", "custom1": "crm"},
        }
        answer = delivering_stack.request("POST", f"/v1/{WORKSPACE}/live/event", json.dumps(body), headers())
        assert answer.status == 202, answer.text
        msg_id = answer.json()["response"]["email"]["msg_id"]

        [report] = wait_for(lambda: receiver.received, timeout=30, message="the report reaches the receiver")
        assert verify_signature(secret[1], report)
        assert report.headers["webhook-id"] and report.headers["webhook-timestamp"].isdigit()
        sent_report = report.json()
        assert (sent_report["custom_id"], sent_report["custom1"], sent_report["msg_id"], sent_report["status"]) == (
            "order-42",
            "crm",
            msg_id,
            "sent",
        )
        assert address not in report.body.decode()
        assert len(emails_to(delivering_stack, address)) == 1
    finally:
        receiver.close()
        delivering_stack.admin("remove-callback-url", "--workspace", WORKSPACE, "--name", "loopback")


def test_a_hard_bounce_played_on_the_local_stack_shows_bounced_and_suppresses_the_address(
    delivering_stack: LocalStackProcess,
) -> None:
    """Provider events end to end on `make run`: the admin command publishes what SES would to the provider-events
    topic (moto SNS), the local stack's emulated SNS event source runs the function, the status route shows it."""
    address = f"bounce-{uuid.uuid4().hex[:8]}@example.com"
    body = json.dumps({"event": "Welcome_Email", "to": {"email": address}, "data": {"name": "B"}})
    answer = delivering_stack.request("POST", f"/v1/{WORKSPACE}/live/event", body, headers())
    request_id, msg_id = answer.json()["request_id"], answer.json()["response"]["email"]["msg_id"]
    wait_for(partial(sent, delivering_stack, request_id), message="the email is sent")

    played = delivering_stack.admin(
        "play-ses-event",
        "--workspace",
        WORKSPACE,
        "--request-id",
        request_id,
        "--msg-id",
        msg_id,
        "--event",
        "hard-bounce",
    )
    assert played.returncode == 0, played.stderr
    wait_for(lambda: notification_states(delivering_stack, request_id) == ["bounced"], message="bounced is shown")
    [notification] = status_of(delivering_stack, request_id).json()["notifications"]
    assert notification["reason"].startswith("hard bounce (Permanent/General)")

    again = delivering_stack.request("POST", f"/v1/{WORKSPACE}/live/event", body, headers())
    assert again.json()["response"]["email"]["status"] == "skipped"
