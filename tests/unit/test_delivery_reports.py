"""Delivery reports (docs/contract.md section 8): the `callback` object checked at the door, a signed report per
state at a real receiver on 127.0.0.1, one webhook-id per (msg_id, status) kept across retries, retries that back
off for more than a day and end in the report dead-letter queue, and a receiver that never holds up a delivery."""

from __future__ import annotations

import re

import pytest

from notify.logic.reports import retry_delay_seconds, webhook_id
from notify.logic.suppressions import suppress
from notify.models.channels import Channel
from notify.settings import get_settings
from notify_admin import cli as admin
from tests.support.clients import BulkApiClient, EventApiClient, welcome
from tests.support.reports import Receiver, ReporterDriver, add_endpoint, verify_signature
from tests.support.sender import SenderDriver
from tests.support.stack import Stack, sent_emails

WORKSPACE = "WSLOCAL0001"


def with_callback(callback: dict[str, object]) -> dict[str, object]:
    return {**welcome(), "callback": callback}


# The door ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("callback", "field"),
    [
        ({"custom_id": "x" * 201}, "callback.custom_id"),
        ({"custom_id": 10**20}, "callback.custom_id"),
        ({"custom_id": True}, "callback.custom_id"),
        ({"custom_id": 1.5}, "callback.custom_id"),
        ({"custom_id": "a", "custom1": "x" * 51}, "callback.custom1"),
        ({"custom_id": "a", "custom2": "x" * 51}, "callback.custom2"),
        ({"custom_id": "a", "enable": "yes"}, "callback.enable"),
        ({"custom_id": "a", "allowlist_urls": ["a", "b", "c", "d"]}, "callback.allowlist_urls"),
        ({"custom_id": "a", "allowlist_urls": ["no spaces"]}, "callback.allowlist_urls"),
        ({"custom_id": "a", "url": "https://example.com/cb"}, "callback.url"),
    ],
)
def test_a_callback_breaking_a_rule_is_400_naming_the_field(
    client: EventApiClient, stack: Stack, callback: dict[str, object], field: str
) -> None:
    refused = client.post(with_callback(callback))
    assert refused.status == 400
    assert field in [error["field"] for error in refused.json()["errors"]], refused.json()
    assert stack.queued_messages() == []


def test_a_callback_at_its_limits_is_accepted(client: EventApiClient, reporter: ReporterDriver) -> None:
    for name in ("a", "b", "c"):
        add_endpoint(WORKSPACE, name, "https://reports.example.com/" + name)
    callback = {
        "custom_id": 10**20 - 1,
        "custom1": "x" * 50,
        "custom2": "y" * 50,
        "enable": True,
        "allowlist_urls": ["a", "b", "c"],
    }
    assert client.post(with_callback(callback)).status == 202
    assert client.post(with_callback({"custom_id": "z" * 200})).status == 202


def test_an_unknown_endpoint_name_is_400_and_nothing_is_queued(
    client: EventApiClient, bulk_client: BulkApiClient, stack: Stack, reporter: ReporterDriver
) -> None:
    add_endpoint(WORKSPACE, "crm", "https://reports.example.com/crm")
    refused = client.post(with_callback({"custom_id": "o-1", "allowlist_urls": ["crm", "billing"]}))
    assert refused.status == 400
    assert refused.json()["errors"] == [
        {"field": "callback.allowlist_urls", "message": "no delivery report endpoint named 'billing' in this workspace"}
    ]
    bulk = {
        "event": "Welcome_Email",
        "batch": [
            {
                "to": {"email": "a@example.com"},
                "data": {"name": "A"},
                "callback": {"custom_id": 1, "allowlist_urls": ["nope"]},
            }
        ],
    }
    assert bulk_client.post(bulk).status == 400
    assert stack.queued_messages() == [] and reporter.queued() == []
    assert client.post(with_callback({"custom_id": "o-1", "allowlist_urls": ["crm"]})).status == 202


# Reports end to end, in process -------------------------------------------------------------------------------


def test_a_sent_notification_is_reported_signed_to_the_default_endpoint(
    client: EventApiClient, sender: SenderDriver, reporter: ReporterDriver, receiver: Receiver
) -> None:
    secret = add_endpoint(WORKSPACE, "crm", receiver.url, default=True)
    accepted = client.post(with_callback({"custom_id": "order-7", "custom1": "crm", "custom2": "eu"}))
    msg_id = accepted.json()["response"]["email"]["msg_id"]

    sender.drain()
    assert len(sent_emails()) == 1
    assert reporter.run_once() == 1

    [report] = receiver.received
    assert verify_signature(secret, report)
    assert report.headers["webhook-id"] == webhook_id(msg_id, "sent")
    assert re.fullmatch(r"\d{10}", report.headers["webhook-timestamp"])
    body = report.json()
    assert {k: body[k] for k in ("custom_id", "custom1", "custom2", "msg_id", "channel", "status", "reason")} == {
        "custom_id": "order-7",
        "custom1": "crm",
        "custom2": "eu",
        "msg_id": msg_id,
        "channel": "email",
        "status": "sent",
        "reason": None,
    }
    assert body["request_id"] == accepted.json()["request_id"]
    assert "rahul@example.com" not in report.body.decode() and body["destination"].endswith("@example.com")
    assert set(body) == {
        "custom_id",
        "custom1",
        "custom2",
        "request_id",
        "msg_id",
        "channel",
        "destination",
        "status",
        "reason",
        "provider_message_id",
        "timestamp",
    }
    assert reporter.queued() == []


def test_no_report_without_a_custom_id_or_with_enable_false(
    client: EventApiClient, sender: SenderDriver, reporter: ReporterDriver, receiver: Receiver
) -> None:
    add_endpoint(WORKSPACE, "crm", receiver.url, default=True)
    client.post(with_callback({"custom1": "no id"}), key="a")
    client.post(with_callback({"custom_id": "off", "enable": False}), key="b")
    client.post(welcome(), key="c")
    sender.drain()
    assert len(sent_emails()) == 3
    assert reporter.queued() == []


def test_named_endpoints_get_the_report_and_the_default_does_not(
    client: EventApiClient, sender: SenderDriver, reporter: ReporterDriver, receiver: Receiver
) -> None:
    other = Receiver()
    try:
        add_endpoint(WORKSPACE, "default", other.url, default=True)
        secret = add_endpoint(WORKSPACE, "crm", receiver.url)
        client.post(with_callback({"custom_id": 7, "allowlist_urls": ["crm"]}))
        sender.drain()
        reporter.run_once()
        [report] = receiver.received
        assert verify_signature(secret, report) and report.json()["custom_id"] == 7
        assert other.received == []
    finally:
        other.close()


def test_a_suppressed_destination_is_reported_skipped(
    client: EventApiClient, stack: Stack, reporter: ReporterDriver, receiver: Receiver
) -> None:
    suppress(WORKSPACE, Channel.email, destination="rahul@example.com", description="hard bounce")
    add_endpoint(WORKSPACE, "crm", receiver.url, default=True)
    accepted = client.post(with_callback({"custom_id": "s-1"}))
    assert accepted.json()["response"]["email"]["status"] == "skipped"
    reporter.run_once()
    [report] = receiver.received
    assert (report.json()["status"], report.json()["reason"]) == ("skipped", "suppressed: hard bounce")


def test_a_report_is_not_sent_to_a_url_the_guard_refuses(
    client: EventApiClient,
    sender: SenderDriver,
    reporter: ReporterDriver,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Outside the local stack, http://127.0.0.1 is refused like any private address, and not retried."""
    add_endpoint(WORKSPACE, "crm", receiver.url, default=True)
    monkeypatch.setenv("LOCAL_LOOPBACK_CALLBACKS", "false")
    get_settings.cache_clear()
    client.post(with_callback({"custom_id": "r-1"}))
    sender.drain()
    assert reporter.run_once() == 1
    assert receiver.received == [] and reporter.queued() == [] and reporter.delays == []


# Retries, backoff and the dead-letter queue ------------------------------------------------------------------


def test_retries_back_off_for_more_than_a_day_then_the_report_is_dead_lettered() -> None:
    delays = [retry_delay_seconds(count) for count in range(1, 20)]  # the 20th receive is the last: no delay after
    assert delays[:4] == [30, 60, 120, 240] and max(delays) == 2 * 60 * 60
    assert sum(delays) > 24 * 60 * 60


def test_a_failing_receiver_gets_the_same_webhook_id_on_every_retry_until_the_dlq(
    client: EventApiClient, sender: SenderDriver, reporter: ReporterDriver, receiver: Receiver, stack: Stack
) -> None:
    receiver.mode = "500"
    add_endpoint(WORKSPACE, "crm", receiver.url, default=True)
    client.post(with_callback({"custom_id": "retry-me"}))
    sender.drain()

    for _ in range(20):
        assert reporter.run_once() == 1
    assert reporter.run_once() == 0  # the queue's maxReceiveCount (20) moved it to the dead-letter queue

    assert len(receiver.received) == 20
    assert len({report.headers["webhook-id"] for report in receiver.received}) == 1
    assert reporter.delays == [retry_delay_seconds(count) for count in range(1, 21)]
    [dead] = reporter.dead_letters()
    assert dead["report"]["custom_id"] == "retry-me"


def test_a_receiver_that_recovers_gets_the_report_once_more_with_the_same_id(
    client: EventApiClient, sender: SenderDriver, reporter: ReporterDriver, receiver: Receiver
) -> None:
    receiver.mode = "500"
    secret = add_endpoint(WORKSPACE, "crm", receiver.url, default=True)
    client.post(with_callback({"custom_id": "later"}))
    sender.drain()
    reporter.run_once()
    receiver.mode = "ok"
    reporter.run_once()
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert verify_signature(secret, second) and reporter.queued() == []


# The admin command ---------------------------------------------------------------------------------------------


def test_add_list_and_remove_callback_urls(
    deployed: str, stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(admin, "resolve_host", lambda host, port: ["93.184.216.34"])
    base = ["--stack-name", deployed]
    command = ["add-callback-url", "--workspace", WORKSPACE, "--name", "crm", "--url", "https://crm.example.com/r"]
    assert admin.run([*base, *command, "--default"]) == 0
    printed = capsys.readouterr().out
    secret = re.search(r"^signing secret: (whsec_\S+)$", printed, re.MULTILINE)
    assert secret, printed
    ssm = stack.session.client("ssm", region_name="us-east-1")
    stored = ssm.get_parameter(Name=f"/local/callbacks/{WORKSPACE}/crm", WithDecryption=True)["Parameter"]
    assert (stored["Type"], stored["Value"]) == ("SecureString", secret[1])

    assert admin.run([*base, "list-callback-urls", "--workspace", WORKSPACE]) == 0
    listed = capsys.readouterr().out
    assert "crm\thttps://crm.example.com/r\t(default)" in listed and "whsec_" not in listed

    assert admin.run([*base, "remove-callback-url", "--workspace", WORKSPACE, "--name", "crm"]) == 0
    capsys.readouterr()
    assert admin.run([*base, "list-callback-urls", "--workspace", WORKSPACE]) == 0
    assert "0 endpoint(s)" in capsys.readouterr().out
    assert admin.run([*base, "remove-callback-url", "--workspace", WORKSPACE, "--name", "crm"]) == 2


@pytest.mark.parametrize(
    ("url", "resolved", "message"),
    [
        ("http://crm.example.com/r", ["93.184.216.34"], "only https"),
        ("https://127.0.0.1/r", ["127.0.0.1"], "IP address hosts"),
        ("https://internal.example.com/r", ["10.0.0.5"], "non-public address"),
        ("https://crm.example.com:8443/r", ["93.184.216.34"], "default https port"),
    ],
)
def test_add_callback_url_refuses_what_the_ssrf_guard_refuses(
    deployed: str,
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
    resolved: list[str],
    message: str,
) -> None:
    monkeypatch.setattr(admin, "resolve_host", lambda host, port: resolved)
    command = ["--stack-name", deployed, "add-callback-url", "--workspace", WORKSPACE, "--name", "x", "--url", url]
    assert admin.run(command) == 2
    assert message in capsys.readouterr().err
