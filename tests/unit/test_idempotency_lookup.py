"""The idempotency key lookup, GET /v1/{workspace}/{version}/idempotency/{api}/{key} (docs/contract.md K1-K4)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from notify.dal import spilled_parts
from tests.support.calls import aws_calls
from tests.support.clients import (
    AutomationApiClient,
    BulkApiClient,
    EventApiClient,
    StatusApiClient,
    welcome,
)
from tests.support.faults import fail_call, queue_refuses
from tests.support.stack import Stack


def test_K1_a_completed_key_shows_the_stored_answer_byte_for_byte_as_json(
    client: EventApiClient, status: StatusApiClient
) -> None:
    posted = client.post(welcome(), key="lookup-1")
    assert posted.status == 202

    found = status.lookup("event", "lookup-1")

    assert found.status == 200
    assert found.headers["content-type"] == "application/json"
    body = found.json()
    assert body["state"] == "completed"
    assert body["status_code"] == 202
    assert body["response"] == posted.json()
    assert body["request_id"] == posted.json()["request_id"]
    assert body["created_at"] == posted.json()["received_time"]
    # 24 hours after the claim by default (R6).
    assert body["expires_at"] > body["created_at"]


def test_K1_the_lookup_reads_one_item_and_never_claims_executes_or_extends(
    stack: Stack, client: EventApiClient, status: StatusApiClient
) -> None:
    client.post(welcome(), key="lookup-reads")
    before = stack.idempotency_items()
    queued = len(stack.queued_messages())
    with aws_calls() as calls:
        status.lookup("event", "lookup-reads")
        status.lookup("event", "never-used")

    # One read per lookup (authentication is cached from the first): the bench's "a lookup costs one read".
    assert calls.count("GetItem") == 2 and set(calls) == {"GetItem"}
    assert stack.idempotency_items() == before
    assert len(stack.queued_messages()) == queued


def test_K1_a_key_is_read_as_the_header_is_trimmed_and_in_its_quoted_form(
    client: EventApiClient, status: StatusApiClient
) -> None:
    posted = client.post(welcome(), key="  spaced/key?é  ")

    assert status.lookup("event", "spaced/key?é").json()["response"] == posted.json()
    assert status.lookup("event", '"spaced/key?é"').json()["response"] == posted.json()


def test_K1_bulk_and_automation_keys_are_looked_up_under_their_own_api(stack: Stack, status: StatusApiClient) -> None:
    bulk = BulkApiClient(stack.workspaces[0]).post({"event": "Welcome_Email", "batch": [welcome()]}, key="same-key")
    run = AutomationApiClient(stack.workspaces[0]).post(
        {"email": "a@example.com", "name": "A", "phone": "+14155550100", "order": {"id": "1", "amount": "2"}},
        key="same-key",
    )

    assert status.lookup("bulk", "same-key").json()["response"] == bulk.json()
    assert status.lookup("automation", "same-key").json()["response"] == run.json()
    assert status.lookup("automation", "same-key").json()["request_id"] == run.json()["request_id"]
    assert status.lookup("event", "same-key").status == 404


def test_K1_a_stored_error_shows_its_status_and_body(client: EventApiClient, status: StatusApiClient) -> None:
    with queue_refuses("Welcome_Email"):
        failed = client.post(welcome(), key="stored-500")
    assert failed.status == 500

    body = status.lookup("event", "stored-500").json()

    assert (body["state"], body["status_code"], body["response"]) == ("completed", 500, failed.json())


def test_K1_a_key_held_by_a_running_request_is_in_progress(
    stack: Stack, client: EventApiClient, status: StatusApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from notify.logic import events

    seen: dict[str, Any] = {}
    accept = events.accept_event

    def look_while_running(*args: Any, **kwargs: Any) -> Any:
        seen["during"] = status.lookup("event", "running")
        return accept(*args, **kwargs)

    monkeypatch.setattr(events, "accept_event", look_while_running)
    posted = client.post(welcome(), key="running")

    during = seen["during"].json()
    assert seen["during"].status == 200
    assert during["state"] == "in_progress"
    assert (during["status_code"], during["response"]) == (None, None)
    assert during["request_id"] == posted.json()["request_id"]


def test_K2_nothing_stored_an_expired_key_or_a_refused_request_is_404(
    stack: Stack, client: EventApiClient, status: StatusApiClient
) -> None:
    assert status.lookup("event", "never-used").status == 404
    assert status.lookup("event", "never-used").json() == {
        "_message": "No request is stored under this Idempotency-Key",
        "status": "error",
    }
    client.post({"event": "Nope", "to": {"email": "a@example.com"}}, key="refused")  # 400: released (R5)
    assert status.lookup("event", "refused").status == 404

    client.post(welcome(), key="expired")
    ddb = stack.session.client("dynamodb", region_name="us-east-1")
    table = stack.resources.tables["IdempotencyTable"]
    for item in stack.idempotency_items():
        if item["id"]["S"].startswith("event#"):
            ddb.update_item(
                TableName=table,
                Key={"id": item["id"]},
                UpdateExpression="SET expiration = :past",
                ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
            )
    assert status.lookup("event", "expired").status == 404


def test_K3_another_workspaces_key_or_the_test_version_is_404_never_its_data(
    stack: Stack, client: EventApiClient, other_client: EventApiClient, status: StatusApiClient
) -> None:
    client.post(welcome(), key="mine")
    other = StatusApiClient(stack.workspaces[1])

    assert other.lookup("event", "mine").status == 404
    assert status.lookup("event", "mine", version="test").status == 404
    # Another workspace's API key on this workspace's path is refused before anything is read.
    assert status.lookup("event", "mine", api_key=stack.workspaces[1].api_key).status == 401
    assert status.lookup("event", "mine", api_key=None).status == 401


@pytest.mark.parametrize("api", ["send", "profiles", "Event", "events"])
def test_K4_an_unknown_api_in_the_path_is_404(client: EventApiClient, status: StatusApiClient, api: str) -> None:
    client.post(welcome(), key="k4")
    answer = status.lookup(api, "k4")
    assert answer.status == 404
    assert answer.json()["status"] == "error"


def test_K4_a_blank_key_is_400(status: StatusApiClient) -> None:
    assert status.lookup("event", "   ").status == 400


def test_K1_a_spilled_answer_is_shown_whole(
    stack: Stack, status: StatusApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small limits make an ordinary answer take the path of one too large even compressed (R3).
    monkeypatch.setattr(spilled_parts, "INLINE_RESPONSE_BYTES", 512)
    monkeypatch.setattr(spilled_parts, "PART_BYTES", 2048)
    batch = [{"to": {"email": f"{uuid.uuid4().hex}@example.com"}, "data": {"name": "N"}} for _ in range(40)]
    posted = BulkApiClient(stack.workspaces[0]).post({"event": "Welcome_Email", "batch": batch}, key="big")
    assert posted.status == 202
    assert sum("#part" in item["id"]["S"] for item in stack.idempotency_items()) > 1

    assert status.lookup("bulk", "big").json()["response"] == posted.json()


def test_K1_an_unreachable_store_is_503(stack: Stack, client: EventApiClient, status: StatusApiClient) -> None:
    client.post(welcome(), key="store-down")
    with fail_call("dynamodb", "GetItem", table=stack.resources.tables["IdempotencyTable"]) as failed:
        answer = status.lookup("event", "store-down")
    assert failed
    assert (answer.status, answer.headers["retry-after"]) == (503, "2")


def test_a_route_missing_from_the_route_table_cannot_be_registered_so_never_skips_authentication() -> None:
    """The lookup was first served outside notify.routes.ROUTES, where the authentication middleware lets unknown
    routes through to their 404: another workspace's API key read this workspace's stored answer. A function can
    no longer register such a route."""
    from notify.api import http_function

    function = http_function("openapi_api")
    with pytest.raises(RuntimeError, match=r"not in notify\.routes\.ROUTES"):
        function.get("/v1/<workspace>/<version>/secret")
