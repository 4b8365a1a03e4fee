"""`python -m notify_admin doctor`: what still blocks delivery on a deployed stack, read-only.

Against moto where it models the call (SES identities and quota, SNS subscriptions, DynamoDB, SSM), with
botocore's Stubber where it does not (SES v2's GetAccount, SNS's SMS sandbox, a pending subscription).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from notify.caches import reset
from notify.dal.clients import client
from notify.dal.definitions import put_event_definition
from notify.dal.provider_secrets import put_provider_settings
from notify.models.definitions import EventDefinition
from notify.models.delivery import ProviderSettings
from notify_admin import cli as admin
from notify_admin import doctor
from tests.support.stack import Stack

SENDER = "ops@acme.test"
SECRETS_PATH = "/doctor-stack/providers"
SLACK_EVENT = EventDefinition.model_validate({"name": "Deployed", "channels": {"slack": {"body": "deployed"}}})


@pytest.fixture
def doctor_stack(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> str:
    """A stack as `sam deploy` leaves it in a fresh account: its parameters and outputs, an alarm topic with no
    subscriber, a workspace with a Slack event; the sender's identity exists nowhere."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    topic = stack.session.client("sns", region_name="us-east-1").create_topic(Name="doctor-alarms")["TopicArn"]
    template = {
        "Parameters": {"SenderEmail": {"Type": "String"}},
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "AlarmTopicArn": {"Value": topic},
            "DefinitionsTableName": {"Value": stack.resources.tables["DefinitionsTable"]},
            "ProviderSecretsPath": {"Value": SECRETS_PATH},
        },
    }
    stack.session.client("cloudformation", region_name="us-east-1").create_stack(
        StackName="doctor-stack",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "SenderEmail", "ParameterValue": SENDER}],
    )
    put_event_definition("WSLOCAL0001", SLACK_EVENT, table=stack.resources.tables["DefinitionsTable"])
    return "doctor-stack"


def alarm_topic(stack: Stack) -> str:
    """The doctor stack's alarm topic (the stack has other topics: the SES events' one)."""
    topics = stack.session.client("sns", region_name="us-east-1").list_topics()["Topics"]
    [arn] = [topic["TopicArn"] for topic in topics if topic["TopicArn"].endswith(":doctor-alarms")]
    return str(arn)


def lines(output: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in output.splitlines():
        status, _, rest = line.partition(" ")
        found.setdefault(status, []).append(rest.strip())
    return found


def test_a_fresh_account_is_told_everything_that_blocks_delivery(
    doctor_stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert admin.run(["--stack-name", doctor_stack, "doctor"]) == 3
    found = lines(capsys.readouterr().out)
    problems = " | ".join(found["PROBLEM"])
    assert f"SES has no identity for {SENDER} nor for acme.test" in problems
    assert "SenderIdentityExists=false" in problems
    assert "SES account in the sandbox (200 a day, 1 a second)" in problems  # moto's quota, a sandbox's
    assert "nobody is subscribed to the alarm topic" in problems
    assert "workspace WSLOCAL0001 has Slack events (Deployed) but no Slack bot token" in problems
    # moto does not model the SMS sandbox: said so, not guessed.
    assert any(line.startswith("SMS sandbox: could not ask SNS") for line in found["UNKNOWN"])
    assert found["5"] == ["thing(s) to fix or check before notifications are delivered (docs/deploy.md)"]


def test_what_the_operator_fixed_is_reported_ok(
    doctor_stack: str, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    session = stack.session
    session.client("ses", region_name="us-east-1").verify_domain_identity(Domain="acme.test")
    topic = alarm_topic(stack)
    session.client("sns", region_name="us-east-1").subscribe(
        TopicArn=topic, Protocol="email", Endpoint="oncall@acme.test"
    )
    put_provider_settings(
        "WSLOCAL0001", ProviderSettings.model_validate({"slack_bot_token": "xoxb-doctor"}), path=SECRETS_PATH
    )

    admin.run(["--stack-name", doctor_stack, "doctor"])

    output = capsys.readouterr().out
    found = lines(output)
    assert f"email sender: SES may send from {SENDER} (its domain acme.test is verified)" in found["ok"]
    assert "alarms: the alarm topic notifies email:oncall@acme.test" in found["ok"]
    assert "Slack: workspace WSLOCAL0001 has a Slack bot token" in found["ok"]
    assert "xoxb" not in output  # the token is never read back, let alone printed


def test_doctor_changes_nothing(doctor_stack: str, stack: Stack) -> None:
    ses = stack.session.client("ses", region_name="us-east-1")
    ssm = stack.session.client("ssm", region_name="us-east-1")
    admin.run(["--stack-name", doctor_stack, "doctor"])
    assert ses.list_identities()["Identities"] == []
    assert ssm.describe_parameters()["Parameters"] == []
    topic = alarm_topic(stack)
    assert (
        stack.session.client("sns", region_name="us-east-1").list_subscriptions_by_topic(TopicArn=topic)[
            "Subscriptions"
        ]
        == []
    )


def test_doctor_needs_a_stack_or_an_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    assert admin.run(["doctor"]) == 2
    assert "name a stack (--stack-name) or an endpoint (--endpoint-url)" in capsys.readouterr().err


# What moto does not model: botocore's Stubber answers as SES and SNS do -------------------------------------


@pytest.fixture
def stubbed(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Stubber]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    reset()
    stubbers = {service: Stubber(client(service)) for service in ("ses", "sesv2", "sns")}
    for stubber in stubbers.values():
        stubber.activate()
    yield stubbers
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()
        stubber.deactivate()


def account(production: bool, sending: bool = True) -> dict[str, Any]:
    return {
        "ProductionAccessEnabled": production,
        "SendingEnabled": sending,
        "SendQuota": {"Max24HourSend": 50000.0 if production else 200.0, "MaxSendRate": 14.0 if production else 1.0},
    }


@pytest.mark.parametrize(
    ("answer", "status", "text"),
    [
        (account(production=False), doctor.PROBLEM, "SES account in the sandbox (200 a day, 1 a second)"),
        (account(production=True), doctor.OK, "SES production access; 14 a second, 50000 a day"),
        (account(production=True, sending=False), doctor.PROBLEM, "SES sending is paused"),
    ],
)
def test_ses_production_access_as_ses_v2_reports_it(
    stubbed: dict[str, Stubber], answer: dict[str, Any], status: str, text: str
) -> None:
    stubbed["sesv2"].add_response("get_account", answer, {})
    finding = doctor.check_ses_production_access()
    assert (finding.status, text in finding.text) == (status, True), finding


@pytest.mark.parametrize(("in_sandbox", "status"), [(True, doctor.PROBLEM), (False, doctor.OK)])
def test_sms_sandbox_as_sns_reports_it(stubbed: dict[str, Stubber], in_sandbox: bool, status: str) -> None:
    stubbed["sns"].add_response("get_sms_sandbox_account_status", {"IsInSandbox": in_sandbox}, {})
    finding = doctor.check_sms_sandbox()
    assert finding.status == status
    assert ("only phone numbers verified" in finding.text) is in_sandbox


def test_an_unconfirmed_alarm_subscription_is_a_problem(stubbed: dict[str, Stubber]) -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:alarms"
    stubbed["sns"].add_response(
        "list_subscriptions_by_topic",
        {
            "Subscriptions": [
                {
                    "SubscriptionArn": "PendingConfirmation",
                    "Owner": "123456789012",
                    "Protocol": "email",
                    "Endpoint": "oncall@acme.test",
                    "TopicArn": topic,
                }
            ]
        },
        {"TopicArn": topic},
    )
    finding = doctor.check_alarm_subscriptions(topic)
    assert finding.status == doctor.PROBLEM
    assert "nobody has confirmed the alarm subscription (oncall@acme.test)" in finding.text


@pytest.mark.parametrize(
    ("verification", "text"),
    [
        ({SENDER: "Pending"}, f"SES has not verified {SENDER} yet: open the link SES mailed to it"),
        ({"acme.test": "Pending"}, "SES has not verified the domain acme.test yet"),
        ({SENDER: "Failed"}, "verification of ops@acme.test failed (Failed)"),
    ],
)
def test_an_identity_not_yet_verified_is_a_problem(
    stubbed: dict[str, Stubber], verification: dict[str, str], text: str
) -> None:
    stubbed["ses"].add_response(
        "get_identity_verification_attributes",
        {"VerificationAttributes": {name: {"VerificationStatus": s} for name, s in verification.items()}},
        {"Identities": [SENDER, "acme.test"]},
    )
    finding = doctor.check_sender_identity(SENDER)
    assert finding.status == doctor.PROBLEM
    assert text in finding.text


def test_the_placeholder_sender_is_a_problem_without_asking_ses(stubbed: dict[str, Stubber]) -> None:
    finding = doctor.check_sender_identity("notifications@example.com")
    assert finding.status == doctor.PROBLEM and "placeholder" in finding.text
