"""The client's retry rules against a scripted transport (SPEC section 10): one key per call, kept across every
retry; connection errors, timeouts, 409, 429 and 5xx retried with full-jitter backoff inside the deadline; no
other 4xx ever retried."""

from __future__ import annotations

import logging
import uuid

import httpx
import pytest

from notify_client import ApiError, RetryPolicy, TransportError
from tests.client.fake import ACCEPTED, API_KEY, answer, fake_client

EVENT = {"event": "Welcome_Email", "to": {"email": "rahul@example.com"}, "data": {"name": "Rahul"}}


def test_every_post_carries_a_fresh_v4_uuid_key_and_the_result_exposes_it() -> None:
    client, server, _ = fake_client(answer(202, ACCEPTED))
    first = client.event(EVENT)
    second = client.event(EVENT)
    assert server.keys == [first.idempotency_key, second.idempotency_key]
    assert first.idempotency_key != second.idempotency_key
    for key in server.keys:
        assert uuid.UUID(key).version == 4
    assert (first.status_code, first.body, first.replayed, first.attempts) == (202, ACCEPTED, False, 1)
    assert first.request_id == ACCEPTED["request_id"]


def test_a_key_the_caller_gives_is_sent_as_given() -> None:
    client, server, _ = fake_client(answer(202, ACCEPTED))
    assert client.event(EVENT, idempotency_key="order-1001-welcome").idempotency_key == "order-1001-welcome"
    assert server.keys == ["order-1001-welcome"]


@pytest.mark.parametrize("key", ["", "   "])
def test_a_blank_key_is_refused_before_anything_is_sent(key: str) -> None:
    client, server, _ = fake_client(answer(202, ACCEPTED))
    with pytest.raises(ValueError, match="idempotency_key"):
        client.event(EVENT, idempotency_key=key)
    assert server.requests == []


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("connection refused"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset by peer"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_connection_errors_and_timeouts_are_retried_with_the_same_key_and_the_same_bytes(failure: Exception) -> None:
    client, server, _ = fake_client(failure, failure, answer(202, ACCEPTED, {"Idempotency-Replayed": "true"}))
    result = client.event(EVENT)
    assert len(server.requests) == 3
    assert server.keys == [result.idempotency_key] * 3
    assert len({r.content for r in server.requests}) == 1
    assert (result.status_code, result.replayed, result.attempts) == (202, True, 3)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried_with_the_same_key(status: int) -> None:
    client, server, _ = fake_client(answer(status, {"_message": "boom", "status": "error"}), answer(202, ACCEPTED))
    result = client.event(EVENT)
    assert server.keys == [result.idempotency_key] * 2
    assert result.status_code == 202


def test_409_waits_exactly_retry_after_then_retries_with_the_same_key() -> None:
    busy = answer(409, {"_message": "A request with this key is in progress", "status": "error"}, {"Retry-After": "1"})
    client, server, clock = fake_client(busy, busy, answer(202, ACCEPTED))
    result = client.event(EVENT)
    assert clock.waits == [1.0, 1.0]
    assert server.keys == [result.idempotency_key] * 3


def test_429_is_retried_after_its_retry_after_or_with_backoff_when_it_gives_none() -> None:
    client, server, clock = fake_client(
        answer(429, {"_message": "Too Many Requests"}, {"Retry-After": "3"}),
        answer(429, {"_message": "Too Many Requests"}),
        answer(202, ACCEPTED),
    )
    client.bulk({"event": "Welcome_Email", "batch": [{"to": {"email": "a@example.com"}}]})
    assert len(server.requests) == 3
    assert clock.waits[0] == 3.0
    assert 0 <= clock.waits[1] <= RetryPolicy().base_delay * 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 413, 422])
def test_other_4xx_are_never_retried_and_raise_api_error_with_the_message_field_errors_and_key(status: int) -> None:
    body = {"_message": "Invalid request", "status": "error", "errors": [{"field": "to.email", "message": "bad"}]}
    client, server, clock = fake_client(answer(status, body), answer(202, ACCEPTED))
    with pytest.raises(ApiError) as raised:
        client.event(EVENT, idempotency_key="k-1")
    error = raised.value
    assert len(server.requests) == 1
    assert clock.waits == []
    assert (error.status_code, error.message, error.errors, error.idempotency_key) == (
        status,
        "Invalid request",
        [{"field": "to.email", "message": "bad"}],
        "k-1",
    )
    assert error.body == body
    assert not error.retryable
    assert str(error) == f"{status} Invalid request (Idempotency-Key: k-1)"


def test_an_error_the_server_replays_says_so() -> None:
    client, _, _ = fake_client(answer(400, {"_message": "bad", "status": "error"}, {"Idempotency-Replayed": "true"}))
    with pytest.raises(ApiError) as raised:
        client.event(EVENT)
    assert raised.value.replayed


def test_full_jitter_backoff_waits_are_uniform_below_a_cap_that_doubles_up_to_max_delay() -> None:
    policy = RetryPolicy(deadline=1000, base_delay=0.5, max_delay=4.0)
    failures = [httpx.ConnectError("refused")] * 8
    client, _server, clock = fake_client(*failures, answer(202, ACCEPTED), retry=policy)
    client.event(EVENT)
    assert len(clock.waits) == 8
    caps = [min(4.0, 0.5 * 2**n) for n in range(8)]  # 0.5, 1, 2, 4, 4, 4, 4, 4
    assert all(0 <= wait <= cap for wait, cap in zip(clock.waits, caps, strict=True))
    # Jittered, not fixed: the waits differ, and later ones go beyond the first cap.
    assert len(set(clock.waits)) == 8
    assert max(clock.waits[3:]) > 0.5


def test_retries_stop_at_the_deadline_and_the_error_carries_the_key_to_retry_with_later() -> None:
    policy = RetryPolicy(deadline=5.0, base_delay=1.0, max_delay=1.0)
    client, server, clock = fake_client(httpx.ConnectError("refused"), retry=policy, attempt_seconds=0.5)
    start = clock.now
    with pytest.raises(TransportError) as raised:
        client.event(EVENT)
    error = raised.value
    assert clock.now - start <= 5.0
    assert error.attempts == len(server.requests) > 1
    assert server.keys == [error.idempotency_key] * error.attempts
    assert isinstance(error.__cause__, httpx.ConnectError)
    assert "deadline" in str(error)


def test_a_5xx_still_there_at_the_deadline_raises_api_error_marked_retryable() -> None:
    policy = RetryPolicy(deadline=3.0, base_delay=1.0, max_delay=1.0)
    unavailable = answer(503, {"_message": "Service unavailable", "status": "error"}, {"Retry-After": "2"})
    client, server, clock = fake_client(unavailable, retry=policy)
    with pytest.raises(ApiError) as raised:
        client.event(EVENT)
    assert raised.value.status_code == 503
    assert raised.value.retryable
    assert raised.value.attempts == len(server.requests) == 2  # 0 s, then 2 s; 4 s would pass the deadline
    assert clock.waits == [2.0]


def test_a_retry_after_beyond_the_deadline_is_not_waited_for() -> None:
    busy = answer(409, {"_message": "in progress", "status": "error"}, {"Retry-After": "60"})
    client, server, clock = fake_client(busy, retry=RetryPolicy(deadline=10))
    with pytest.raises(ApiError) as raised:
        client.event(EVENT)
    assert raised.value.status_code == 409
    assert clock.waits == []
    assert len(server.requests) == 1


def test_each_attempt_times_out_within_what_is_left_of_the_deadline() -> None:
    policy = RetryPolicy(deadline=12.0, attempt_timeout=10.0, base_delay=1.0, max_delay=1.0)
    client, server, _ = fake_client(httpx.ReadTimeout("slow"), answer(202, ACCEPTED), retry=policy, attempt_seconds=5)
    client.event(EVENT)
    first, second = (r.extensions["timeout"]["read"] for r in server.requests)
    assert first == 10.0
    assert second <= 12.0 - 5.0


def test_reads_carry_no_key_and_are_retried_too() -> None:
    client, server, _ = fake_client(httpx.ReadTimeout("slow"), answer(502), answer(200, {"notifications": []}))
    result = client.status("0b7d7a3e-9f1c-4a43-8b3b-1c2d3e4f5a6b")
    assert server.keys == [None, None, None]
    assert (result.status_code, result.body, result.idempotency_key) == (200, {"notifications": []}, None)


def test_a_profile_write_the_server_may_have_done_is_not_repeated_after_an_ambiguous_failure() -> None:
    """Profiles take no key: a repeated create or delete that had worked would answer a misleading 400."""
    client, server, _ = fake_client(httpx.ReadTimeout("slow"), answer(201, {"status": "ok"}))
    with pytest.raises(TransportError) as raised:
        client.profiles.create("user-1", name="Rahul")
    assert len(server.requests) == 1
    assert raised.value.idempotency_key == server.keys[0]


def test_a_profile_write_that_surely_did_nothing_is_retried() -> None:
    client, server, _ = fake_client(
        httpx.ConnectError("refused"), answer(503, {"_message": "unavailable"}), answer(201, {"status": "ok"})
    )
    assert client.profiles.delete(["user-1"]).status_code == 201
    assert len(server.requests) == 3


def test_a_profile_write_is_not_repeated_after_a_500() -> None:
    client, server, _ = fake_client(answer(500, {"_message": "Internal error"}), answer(200, {"status": "ok"}))
    with pytest.raises(ApiError) as raised:
        client.profiles.merge("anonymous-42", "user-1")
    assert raised.value.status_code == 500
    assert len(server.requests) == 1


def test_idempotent_profile_changes_are_retried_like_any_call() -> None:
    client, server, _ = fake_client(httpx.ReadTimeout("slow"), answer(200, {"status": "ok"}))
    client.profiles.add_channels("user-1", {"sms": "+14155550100"})
    client2, server2, _ = fake_client(httpx.ReadTimeout("slow"), answer(200, {"status": "ok"}))
    client2.profiles.update("user-1", name="Rahul K")
    assert len(server.requests) == len(server2.requests) == 2


def test_a_rename_is_not_repeated_after_an_ambiguous_failure() -> None:
    client, server, _ = fake_client(httpx.ReadTimeout("slow"), answer(200, {"status": "ok"}))
    with pytest.raises(TransportError):
        client.profiles.update("user-1", distinct_id="user-2")
    assert len(server.requests) == 1


def test_logs_name_the_retries_and_the_key_but_never_the_api_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client, _, _ = fake_client(
        httpx.ConnectError("refused"), answer(500, {"_message": "boom"}), answer(401, {"_message": "Invalid API"})
    )
    with pytest.raises(ApiError) as raised:
        client.event(EVENT, idempotency_key="k-logs")
    retries = [r for r in caplog.records if r.name == "notify_client"]
    assert len(retries) == 2
    assert all("k-logs" in r.getMessage() for r in retries)
    assert [(r.attempt, r.reason, r.idempotency_key) for r in retries] == [  # type: ignore[attr-defined]
        (1, "ConnectError", "k-logs"),
        (2, "500", "k-logs"),
    ]
    everything = caplog.text + repr(client) + str(raised.value) + repr(raised.value) + repr(raised.value.__dict__)
    assert API_KEY not in everything
