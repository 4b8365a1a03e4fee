"""Sender: rendering, providers, retries, the sandbox, and at-most-once delivery per msg_id (D1-D6, R8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.retries.standard import ExponentialBackoff
from freezegun import freeze_time
from moto.core.exceptions import ServiceException
from moto.ses.models import SESBackend

from notify.dal.definitions import put_event_definition
from notify.dal.inbox import list_inbox
from notify.dal.provider_secrets import put_provider_settings
from notify.logic.providers.webhooks import CheckedUrl, HttpClient, HttpResponse
from notify.models.definitions import EventDefinition
from notify.models.delivery import ProviderSettings
from notify.settings import get_settings
from tests.support.clients import EventApiClient, StatusApiClient, welcome
from tests.support.faults import SimulatedLambdaTimeout, fail_call
from tests.support.sender import SenderDriver
from tests.support.stack import FakeLambdaContext, Stack, sent_emails, sent_sms

PUBLIC_ADDRESS = "162.159.135.232"


class TooManyRequests(ServiceException):
    code = "TooManyRequestsException"


class RecordingOpener:
    """Answers HTTPS calls from a script and remembers them; nothing leaves the process."""

    def __init__(self, *answers: HttpResponse) -> None:
        self.answers = list(answers) or [HttpResponse(200, b"ok")]
        self.calls: list[dict[str, Any]] = []

    def __call__(
        self, url: CheckedUrl, method: str, body: bytes | None, headers: dict[str, str], timeout: float
    ) -> HttpResponse:
        self.calls.append({"host": url.host, "target": url.target, "body": body, "headers": headers})
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
def no_retry_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore still retries a throttled call, without sleeping between attempts."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


def die(**_: Any) -> None:
    raise SimulatedLambdaTimeout()


def http_with(opener: RecordingOpener) -> HttpClient:
    return HttpClient(opener=opener, resolver=lambda host, port: [PUBLIC_ADDRESS], timeout=1.0)


def define(stack: Stack, name: str, channels: dict[str, Any]) -> None:
    definition = EventDefinition.model_validate({"name": name, "channels": channels})
    for workspace in stack.workspaces:
        put_event_definition(workspace.workspace, definition)


def notifications(status: StatusApiClient, request_id: str, version: str = "live") -> dict[str, dict[str, Any]]:
    answer = status.get(request_id, version=version)
    assert answer.status == 200, answer.body
    return {n["channel"]: n for n in answer.json()["notifications"]}


def test_email_is_sent_through_ses_with_the_rendered_template(
    client: EventApiClient, sender: SenderDriver, status: StatusApiClient
) -> None:
    accepted = client.post(welcome(), key="welcome-1").json()

    sender.drain()

    [email] = sent_emails()
    assert email.source == "notifications@example.com"
    assert email.destinations == {"ToAddresses": ["rahul@example.com"]}
    assert email.subject == "Welcome Rahul"
    # moto keeps an email's HTML part as its body when there is one (the demo event has both parts).
    assert email.body == "<h1>Welcome, Rahul</h1><p>Hi Rahul, <b>welcome aboard</b>.</p>"
    shown = notifications(status, accepted["request_id"])["email"]
    assert shown["state"] == "sent"
    assert shown["provider"] == "ses"
    assert shown["provider_message_id"] == email.id
    assert shown["attempts"] == 1
    assert shown["msg_id"] == accepted["response"]["email"]["msg_id"]


def test_sms_is_published_through_sns(client: EventApiClient, sender: SenderDriver, status: StatusApiClient) -> None:
    body = {
        "event": "OrderConfirmed",
        "to": {"email": "rahul@example.com", "sms": "+14155550123"},
        "data": {"name": "Rahul", "order_id": "A-17", "amount": "$12"},
    }
    accepted = client.post(body).json()

    sender.drain()

    assert sent_sms() == [("+14155550123", "Order A-17 confirmed: $12")]
    assert [e.subject for e in sent_emails()] == ["Order A-17 confirmed"]
    shown = notifications(status, accepted["request_id"])
    assert shown["sms"]["state"] == "sent"
    assert shown["sms"]["provider"] == "sns"
    assert shown["sms"]["destination"] == "+1***23"


def test_inapp_goes_to_the_recipient_inbox(stack: Stack, client: EventApiClient, sender: SenderDriver) -> None:
    define(stack, "Mention", {"inapp": {"subject": "{{ who }} mentioned you", "body": "in {{ where }}"}})

    client.post({"event": "Mention", "to": {"inapp": "user-42"}, "data": {"who": "Ana", "where": "#general"}})
    sender.drain()

    [item] = list_inbox(stack.workspaces[0].workspace, "user-42")
    assert (item["subject"], item["body"], item["read"]) == ("Ana mentioned you", "in #general", False)
    assert list_inbox(stack.workspaces[1].workspace, "user-42") == []


def test_channels_without_a_provider_are_recorded_failed_not_dropped(
    stack: Stack, client: EventApiClient, sender: SenderDriver, status: StatusApiClient
) -> None:
    define(stack, "Everything", {c: {"body": "hi"} for c in ("push", "whatsapp", "voice", "slack")})
    to = {"push": "device-token-1", "whatsapp": "+14155550123", "voice": "+14155550124", "slack": "U024BE7LH"}

    accepted = client.post({"event": "Everything", "to": to}).json()
    sender.drain()

    shown = notifications(status, accepted["request_id"])
    assert set(shown) == set(to)
    assert all(n["state"] == "failed" for n in shown.values())
    assert shown["push"]["reason"] == "no provider is configured for the push channel"
    assert shown["whatsapp"]["reason"] == "no provider is configured for the whatsapp channel"
    assert "no bot token" in shown["slack"]["reason"]
    assert sender.dead_letters() == []  # failed for good: not retried


def test_chat_webhooks_are_posted_to_the_checked_provider_hosts(
    stack: Stack, client: EventApiClient, sender: SenderDriver, status: StatusApiClient
) -> None:
    define(stack, "Deploy", {c: {"body": "Deployed {{ app }}"} for c in ("slack", "discord", "teams")})
    opener = RecordingOpener(HttpResponse(200, b'{"id": "1180000000000000000"}'))
    sender.use_http(http_with(opener))
    to = {
        "slack": "https://hooks.slack.com/services/T000/B000/XXXX",
        "discord": "https://discord.com/api/webhooks/123/abc",
        "teams": "https://contoso.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456",
    }

    accepted = client.post({"event": "Deploy", "to": to, "data": {"app": "api"}}).json()
    sender.drain()

    calls = {call["host"]: call for call in opener.calls}
    assert set(calls) == {"hooks.slack.com", "discord.com", "contoso.webhook.office.com"}
    assert calls["discord.com"]["target"] == "/api/webhooks/123/abc?wait=true"
    assert all(b"Deployed api" in call["body"] for call in opener.calls)
    shown = notifications(status, accepted["request_id"])
    assert {c: n["state"] for c, n in shown.items()} == {"slack": "sent", "discord": "sent", "teams": "sent"}
    assert shown["discord"]["provider_message_id"] == "1180000000000000000"
    assert shown["slack"]["destination"] == "ht***XX"  # a webhook URL is a secret: masked like any address


def test_refused_webhook_is_recorded_failed_and_never_contacted(
    stack: Stack, client: EventApiClient, sender: SenderDriver, status: StatusApiClient
) -> None:
    define(stack, "Deploy", {"discord": {"body": "hi"}})
    opener = RecordingOpener()
    sender.use_http(http_with(opener))

    accepted = client.post({"event": "Deploy", "to": {"discord": "https://169.254.169.254/api/webhooks/1/x"}}).json()
    sender.drain()

    assert opener.calls == []
    shown = notifications(status, accepted["request_id"])["discord"]
    assert shown["state"] == "failed"
    assert shown["reason"] == "webhook refused: IP address hosts are not allowed"
    assert shown["attempts"] == 1
    assert sender.dead_letters() == []


def test_slack_user_goes_through_the_web_api_with_the_workspace_bot_token(
    stack: Stack, client: EventApiClient, sender: SenderDriver, status: StatusApiClient
) -> None:
    define(stack, "Deploy", {"slack": {"body": "Deployed {{ app }}"}})
    put_provider_settings(stack.workspaces[0].workspace, ProviderSettings.model_validate({"slack_bot_token": "xoxb-1"}))
    opener = RecordingOpener(
        HttpResponse(200, b'{"ok": true, "user": {"id": "U024BE7LH"}}'),
        HttpResponse(200, b'{"ok": true, "channel": "D024BE91L", "ts": "1503435956.000247"}'),
    )
    sender.use_http(http_with(opener))

    accepted = client.post({"event": "Deploy", "to": {"slack": "ana@example.com"}, "data": {"app": "api"}}).json()
    sender.drain()

    lookup, post = opener.calls
    assert lookup["target"] == "/api/users.lookupByEmail?email=ana%40example.com"
    assert post["target"] == "/api/chat.postMessage"
    assert post["headers"]["Authorization"] == "Bearer xoxb-1"
    assert b'"channel": "U024BE7LH"' in post["body"]
    shown = notifications(status, accepted["request_id"])["slack"]
    assert (shown["state"], shown["provider"]) == ("sent", "slack-api")
    assert shown["provider_message_id"] == "D024BE91L:1503435956.000247"


def test_template_error_fails_that_notification_only(
    stack: Stack, client: EventApiClient, sender: SenderDriver, status: StatusApiClient
) -> None:
    define(stack, "Broken", {"email": {"subject": "Hi {{ name }}", "body": "{{ name.__class__.__mro__ }}"}})

    broken = client.post({"event": "Broken", "to": {"email": "a@example.com"}, "data": {"name": "A"}}).json()
    good = client.post(welcome()).json()
    assert sender.run_once() == 2  # one batch: the template error did not fail it
    assert sender.drain() == 0

    shown = notifications(status, broken["request_id"])["email"]
    assert shown["state"] == "failed"
    assert shown["reason"].startswith("template error: SecurityError")
    assert notifications(status, good["request_id"])["email"]["state"] == "sent"
    assert [e.destinations["ToAddresses"] for e in sent_emails()] == [["rahul@example.com"]]


def test_missing_template_variable_is_a_template_error(
    stack: Stack, client: EventApiClient, sender: SenderDriver, status: StatusApiClient
) -> None:
    """The APIs refuse data a template lacks (D8), but a definition can change between the request and the send:
    the sender renders again and records what is missing."""
    define(stack, "Greeting", {"email": {"subject": "Hi", "body": "Hello"}})
    accepted = client.post({"event": "Greeting", "to": {"email": "a@example.com"}}).json()
    define(stack, "Greeting", {"email": {"subject": "Hi {{ name }}", "body": "Hello"}})

    sender.drain()

    shown = notifications(status, accepted["request_id"])["email"]
    assert shown["reason"] == "template error: UndefinedError: 'name' is undefined"
    assert sent_emails() == []


def test_test_version_delivers_only_to_the_sandbox(
    client: EventApiClient, sender: SenderDriver, status: StatusApiClient
) -> None:
    body = {
        "event": "OrderConfirmed",
        "to": {"email": "rahul@example.com", "sms": "+14155550123"},
        "data": {"name": "R", "order_id": "1", "amount": "2"},
    }
    accepted = client.post(body, version="test").json()

    sender.drain()

    assert sent_emails() == []
    assert sent_sms() == []
    shown = notifications(status, accepted["request_id"], version="test")
    assert {n["provider"] for n in shown.values()} == {"sandbox"}
    assert {n["state"] for n in shown.values()} == {"sent"}


def test_test_version_fails_a_channel_without_provider_as_live_would(
    stack: Stack, client: EventApiClient, sender: SenderDriver, status: StatusApiClient
) -> None:
    define(stack, "Ping", {"push": {"body": "hi"}, "inapp": {"body": "hi"}})

    accepted = client.post({"event": "Ping", "to": {"push": "device-1", "inapp": "user-1"}}, version="test").json()
    sender.drain()

    shown = notifications(status, accepted["request_id"], version="test")
    assert (shown["push"]["state"], shown["push"]["reason"]) == (
        "failed",
        "no provider is configured for the push channel",
    )
    assert (shown["inapp"]["state"], shown["inapp"]["provider"]) == ("sent", "sandbox")
    assert list_inbox(stack.workspaces[0].workspace, "user-1") == []  # the sandbox, not the inbox


def test_R8_duplicate_sqs_delivery_sends_once(
    client: EventApiClient, sender: SenderDriver, stack: Stack, status: StatusApiClient
) -> None:
    accepted = client.post(welcome(), key="dup-1").json()
    [queued] = stack.queued_messages()
    sender.requeue(queued)  # SQS is at-least-once: the same message arrives twice

    sender.drain()
    sender.requeue(queued)  # and once more, after the first copies were done
    sender.drain()

    assert len(sent_emails()) == 1
    assert notifications(status, accepted["request_id"])["email"]["attempts"] == 1
    # The sender's claim on the msg_id (its delivery item) outlives the request's idempotency key by the queue's
    # retention, so a copy still waiting on the queue when the key expires finds it (the delivery log's 30 days
    # are longer here; test_R8_the_guard_outlives_a_key_longer_than_the_delivery_logs_retention).
    [claim] = stack.send_guards()
    assert claim["guard"]["S"] == "done"
    assert int(claim["expires_at"]["N"]) >= queued["dedupe_until"] + 345600


def test_R8_client_retry_after_api_crash_delivers_once(client: EventApiClient, sender: SenderDriver) -> None:
    """The Event function dies right after enqueueing; once its claim lapses the client retries, the request
    executes again with the same ids and enqueues the same notification again. One email goes out."""
    start = datetime.now(UTC)
    # Powertools' parser package builds pydantic models on first attribute access; freezegun's module scan
    # would build them around its fake datetime class. Nothing there reads the clock.
    lazy_models = ["aws_lambda_powertools.utilities.parser"]
    with (
        freeze_time(start, ignore=lazy_models),
        fail_call("sqs", "SendMessageBatch", action=die, after=True),
        pytest.raises(SimulatedLambdaTimeout),
    ):
        client.post(welcome(), key="crash-1", context=FakeLambdaContext(remaining_ms=3_000))
    with freeze_time(start + timedelta(seconds=10), ignore=lazy_models):  # past the dead invocation's deadline
        retried = client.post(welcome(), key="crash-1")
    assert retried.status == 202
    assert sender.queue_depth() == 2  # the same msg_id queued twice

    sender.drain()

    [email] = sent_emails()
    assert email.destinations == {"ToAddresses": ["rahul@example.com"]}


@pytest.mark.usefixtures("no_retry_backoff")
def test_R8_provider_failure_is_retried_and_marked_failed_at_max_receive_count(
    client: EventApiClient, sender: SenderDriver, status: StatusApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(*args: Any, **kwargs: Any) -> Any:
        raise TooManyRequests("Maximum sending rate exceeded.")

    monkeypatch.setattr(SESBackend, "send_email", throttled)
    accepted = client.post(welcome(), key="throttled-1").json()

    sender.drain()

    shown = notifications(status, accepted["request_id"])["email"]
    assert shown["state"] == "failed"
    assert shown["attempts"] == 5
    assert shown["reason"] == (
        "dead-lettered: ses rejected the message: TooManyRequestsException: Maximum sending rate exceeded. "
        "(attempt 5 of 5)"
    )
    assert [m["msg_id"] for m in sender.dead_letters()] == [shown["msg_id"]]


@pytest.mark.usefixtures("no_retry_backoff")
def test_R8_provider_recovering_after_retries_delivers_once(
    client: EventApiClient, sender: SenderDriver, status: StatusApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_send = SESBackend.send_email

    def flaky(self: SESBackend, *args: Any, **kwargs: Any) -> Any:
        if sender.invocations < 3:  # SES throttles during the first two deliveries of the message
            raise TooManyRequests("Maximum sending rate exceeded.")
        return real_send(self, *args, **kwargs)

    monkeypatch.setattr(SESBackend, "send_email", flaky)
    accepted = client.post(welcome(), key="flaky-1").json()

    sender.drain()

    assert len(sent_emails()) == 1
    shown = notifications(status, accepted["request_id"])["email"]
    assert (shown["state"], shown["attempts"], shown["reason"]) == ("sent", 3, None)


def test_R8_sender_killed_mid_delivery_never_sends_again(
    client: EventApiClient, sender: SenderDriver, status: StatusApiClient
) -> None:
    """SES accepted the email but the sender died before recording it: a retry cannot know whether it went
    out, so it does not send; the last receive records the notification `unknown`."""
    accepted = client.post(welcome(), key="killed-1").json()
    with fail_call("sesv2", "SendEmail", action=die, after=True), pytest.raises(SimulatedLambdaTimeout):
        sender.run_once()
    sender.expire_in_flight()

    sender.drain()

    assert len(sent_emails()) == 1
    shown = notifications(status, accepted["request_id"])["email"]
    assert shown["state"] == "unknown"
    assert "outcome is unknown" in shown["reason"]


def test_ses_rejection_is_permanent_and_its_reason_masks_addresses(
    client: EventApiClient, sender: SenderDriver, status: StatusApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMAIL_FROM", "unverified@example.com")
    get_settings.cache_clear()
    accepted = client.post(welcome(), key="rejected-1").json()

    sender.drain()

    shown = notifications(status, accepted["request_id"])["email"]
    assert (shown["state"], shown["attempts"]) == ("failed", 1)
    assert shown["reason"].startswith(
        "ses rejected the message: MessageRejected: Email address not verified u***@example.com (the sender identity "
        "is not verified, or the account is in the SES sandbox"
    )
    assert "notify_admin --stack-name <stack> doctor" in shown["reason"]  # issue 19: what to do about it
    assert sent_emails() == []
    assert sender.dead_letters() == []


def test_R8_message_never_started_for_lack_of_time_is_failed_at_the_last_receive_and_never_sent(
    client: EventApiClient, sender: SenderDriver, status: StatusApiClient
) -> None:
    """Every invocation starts with less than the sender's reserve (3 s): no provider call fits, so the
    message goes back untouched on each receive, and the last one records why before the DLQ takes it."""
    accepted = client.post(welcome(), key="no-time-1").json()
    sender.remaining_ms = 2_000

    sender.drain()

    assert sent_emails() == []
    shown = notifications(status, accepted["request_id"])["email"]
    assert (shown["state"], shown["attempts"]) == ("failed", 1)
    assert shown["reason"] == (
        "dead-lettered: not started: too little time left in the invocation to call a provider (attempt 5 of 5)"
    )
    assert [m["msg_id"] for m in sender.dead_letters()] == [shown["msg_id"]]


def test_the_sender_renders_with_a_definition_at_most_a_minute_old(
    stack: Stack, client: EventApiClient, sender: SenderDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sender caches the definitions it renders with for 60 s per container, as the API does (issue 25): a
    template changed after the sender read it is sent once the minute has passed."""
    import time

    define(stack, "Greeting", {"email": {"subject": "first", "body": "Hello"}})
    client.post({"event": "Greeting", "to": {"email": "a@example.com"}})
    sender.drain()
    define(stack, "Greeting", {"email": {"subject": "second", "body": "Hello"}})
    client.post({"event": "Greeting", "to": {"email": "a@example.com"}})
    sender.drain()
    started = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: started + get_settings().definitions_cache_seconds + 1)
    client.post({"event": "Greeting", "to": {"email": "a@example.com"}})
    sender.drain()

    assert [email.subject for email in sent_emails()] == ["first", "first", "second"]
