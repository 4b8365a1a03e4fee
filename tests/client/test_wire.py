"""What the client puts on the wire for each route (SPEC sections 2, 6, 9 and 10), against a scripted transport:
the routes of SPEC section 9 (cancel, the idempotency lookup) are tested here to their wire format."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from notify_client import ApiError, Client, RetryPolicy
from tests.client.fake import ACCEPTED, API_KEY, WORKSPACE, answer, fake_client

PREFIX = f"/v1/{WORKSPACE}/live"


def test_every_call_authenticates_with_the_bearer_key_and_asks_for_json() -> None:
    client, server, _ = fake_client(answer(202, ACCEPTED))
    client.event({"event": "Welcome_Email", "to": {"email": "a@example.com"}})
    (request,) = server.requests
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("notify-client-python/")


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000/v1/WSFAKE0001/live/event"),
        ("http://127.0.0.1:3000/", "http://127.0.0.1:3000/v1/WSFAKE0001/live/event"),
        # Fyno's SDKs take the endpoint with its /v1 (FYNO_ENDPOINT): it works as given.
        ("https://api.fyno.io/v1/", "https://api.fyno.io/v1/WSFAKE0001/live/event"),
        ("https://gateway.example.com/prod", "https://gateway.example.com/prod/v1/WSFAKE0001/live/event"),
    ],
)
def test_the_base_url_is_this_apis_root_or_fynos_endpoint(base_url: str, expected: str) -> None:
    client, server, _ = fake_client(answer(202, ACCEPTED), base_url=base_url)
    client.event({"event": "E", "to": {"email": "a@example.com"}})
    assert str(server.requests[0].url) == expected


def test_event_and_bulk_post_the_body_as_given() -> None:
    client, server, _ = fake_client(answer(202, ACCEPTED))
    event = {"event": "Welcome_Email", "to": {"email": "rahul@example.com"}, "data": {"name": "Rāhul"}}
    bulk = {"event": "OrderConfirmed", "batch": [{"to": {"sms": "+14155550100"}}]}
    client.event(event)
    client.bulk(bulk)
    assert [(r.method, r.url.path) for r in server.requests] == [
        ("POST", f"{PREFIX}/event"),
        ("POST", f"{PREFIX}/event/bulk"),
    ]
    assert server.bodies() == [event, bulk]


def test_the_expiration_goes_in_x_idempotency_expiration_as_epoch_ms_or_as_given() -> None:
    client, server, _ = fake_client(answer(202, ACCEPTED))
    client.event({"event": "E"}, idempotency_expiration=datetime(2030, 1, 2, tzinfo=UTC))
    client.bulk({"event": "E", "batch": []}, idempotency_expiration="2030-01-02T00:00:00Z")
    assert [r.headers["x-idempotency-expiration"] for r in server.requests] == [
        "1893542400000",
        "2030-01-02T00:00:00Z",
    ]
    with pytest.raises(ValueError, match="timezone"):
        client.event({"event": "E"}, idempotency_expiration=datetime(2030, 1, 2))


def test_trigger_posts_any_payload_and_names_the_run_in_cancellation_key() -> None:
    client, server, _ = fake_client(answer(202, ACCEPTED))
    client.trigger("onboarding", {"email": "a@example.com"}, cancellation_key="signup-42")
    client.trigger("onboarding", ["any", "json"])
    first, second = server.requests
    assert (first.method, first.url.path) == ("POST", f"{PREFIX}/automation/onboarding/trigger")
    assert first.headers["cancellation-key"] == "signup-42"
    assert "cancellation-key" not in second.headers
    assert server.bodies() == [{"email": "a@example.com"}, ["any", "json"]]


def test_cancel_posts_the_cancellation_key_and_recipients_with_its_own_idempotency_key() -> None:
    cancelled = {"cancelled": [{"request_id": "r-1", "step": 2, "msg_id": "m-1"}], "already_sent": []}
    client, server, _ = fake_client(answer(500), answer(200, cancelled, {"Idempotency-Replayed": "true"}))
    result = client.cancel("onboarding", "signup-42", recipients=["a@example.com", "user-1"])
    assert [(r.method, r.url.path) for r in server.requests] == [("POST", f"{PREFIX}/automation/onboarding/cancel")] * 2
    assert server.bodies()[0] == {"cancellation_key": "signup-42", "recipients": ["a@example.com", "user-1"]}
    assert server.keys == [result.idempotency_key] * 2
    assert (result.status_code, result.body, result.replayed) == (200, cancelled, True)


def test_cancel_without_recipients_sends_only_the_cancellation_key() -> None:
    client, server, _ = fake_client(answer(200, {"cancelled": [], "already_sent": []}))
    client.cancel("onboarding", "signup-42", idempotency_key="cancel-signup-42")
    assert server.bodies() == [{"cancellation_key": "signup-42"}]
    assert server.keys == ["cancel-signup-42"]


def test_status_gets_the_request() -> None:
    client, server, _ = fake_client(answer(200, {"request_id": "r-1", "notifications": []}))
    assert client.status("r-1").body == {"request_id": "r-1", "notifications": []}
    assert (server.requests[0].method, server.requests[0].url.path) == ("GET", f"{PREFIX}/request/r-1")


def test_the_idempotency_lookup_encodes_the_key_and_returns_what_it_holds() -> None:
    held = {"state": "completed", "status_code": 202, "response": ACCEPTED, "request_id": "r-1"}
    client, server, _ = fake_client(answer(200, held))
    result = client.idempotency_lookup("event", "order/1001 #welcome")
    assert result is not None
    assert result.body == held
    (request,) = server.requests
    assert request.method == "GET"
    assert request.url.raw_path.decode() == f"{PREFIX}/idempotency/event/order%2F1001%20%23welcome"
    assert "idempotency-key" not in request.headers


def test_the_idempotency_lookup_of_a_key_that_holds_nothing_is_none() -> None:
    client, _, _ = fake_client(answer(404, {"_message": "Not found", "status": "error"}))
    assert client.idempotency_lookup("bulk", "k-1") is None


def test_the_idempotency_lookup_refuses_an_unknown_api_and_raises_other_errors() -> None:
    client, server, _ = fake_client(answer(401, {"_message": "Invalid API details", "status": "error"}))
    with pytest.raises(ValueError, match="api must be one of"):
        client.idempotency_lookup("profiles", "k-1")
    assert server.requests == []
    with pytest.raises(ApiError) as raised:
        client.idempotency_lookup("automation", "k-1")
    assert raised.value.status_code == 401


def test_profiles_routes_and_bodies() -> None:
    client, server, _ = fake_client(answer(200, {"status": "ok"}))
    profiles = client.profiles
    profiles.create("user/1", name="Rahul", channel={"email": "rahul@example.com"})
    profiles.get("user/1")
    profiles.update("user/1", name="Rahul K")
    profiles.add_channels("user/1", {"push": [{"token": "t-1", "integration_id": "fcm"}]})
    profiles.delete_channels("user/1", ["sms"])
    profiles.delete_channels("user/1", tokens={"push": ["t-1"]})
    profiles.merge("anonymous-42", "user/1")
    profiles.delete(["user/1", "user-2"])
    calls = [(r.method, r.url.raw_path.decode()) for r in server.requests]
    p = f"{PREFIX}/profiles"
    assert calls == [
        ("POST", p),
        ("GET", f"{p}/user%2F1"),
        ("PUT", f"{p}/user%2F1"),
        ("PATCH", f"{p}/user%2F1/channel"),
        ("POST", f"{p}/user%2F1/channel/delete"),
        ("POST", f"{p}/user%2F1/channel/delete"),
        ("PATCH", f"{p}/anonymous-42/merge/user%2F1"),
        ("POST", f"{p}/delete"),
    ]
    assert server.bodies() == [
        {"distinct_id": "user/1", "name": "Rahul", "channel": {"email": "rahul@example.com"}},
        None,
        {"name": "Rahul K"},
        {"channel": {"push": [{"token": "t-1", "integration_id": "fcm"}]}},
        {"channel": ["sms"]},
        {"push": ["t-1"]},
        None,
        {"distinct_id": ["user/1", "user-2"]},
    ]


def test_profiles_refuse_ambiguous_arguments_before_sending() -> None:
    client, server, _ = fake_client(answer(200, {"status": "ok"}))
    with pytest.raises(ValueError, match="either channels or tokens"):
        client.profiles.delete_channels("user-1", ["sms"], tokens={"push": ["t"]})
    with pytest.raises(TypeError):
        client.profiles.delete("user-1")  # a str is a Sequence of str; the wire wants a list
    with pytest.raises(ValueError, match="non-empty"):
        client.profiles.get("")
    assert server.requests == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("WS1", "key", "http://h", "staging"), "version"),
        (("WS1", "", "http://h"), "api_key"),
        (("", "key", "http://h"), "workspace"),
        (("WS1", "key", "127.0.0.1:3000"), "base_url"),
    ],
)
def test_the_client_refuses_a_bad_configuration(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Client(*args)


def test_a_body_that_is_not_json_is_kept_as_text() -> None:
    client, _, _ = fake_client(httpx.Response(502, text="Bad Gateway"), retry=RetryPolicy(deadline=0.0))
    with pytest.raises(ApiError) as raised:
        client.status("r-1")
    assert (raised.value.body, raised.value.message) == ("Bad Gateway", "Bad Gateway")


def test_the_client_closes_its_connections_as_a_context_manager() -> None:
    client, _, _ = fake_client(answer(202, ACCEPTED))
    with client as entered:
        assert entered.event({"event": "E"}).status_code == 202
    assert client._http.is_closed
    assert API_KEY not in repr(client)
