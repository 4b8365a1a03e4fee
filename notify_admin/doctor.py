"""`python -m notify_admin doctor`: what still stands between a deployed stack and a delivered notification.

It only reads (SES identities and account, the SMS sandbox, the alarm topic's subscriptions, the definitions
table and the provider secrets' names) and changes nothing. Each finding is one line in plain words; a call
the account (or the local stack's moto) cannot answer is reported as unknown, never guessed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from notify.dal.clients import client
from notify.dal.provider_secrets import SLACK_BOT_TOKEN, secret_name

OK, PROBLEM, UNKNOWN = "ok", "PROBLEM", "UNKNOWN"
# SES's sandbox: 200 messages a day at 1 a second, to verified addresses only.
SANDBOX_DAILY_QUOTA = 200
PLACEHOLDER_DOMAINS = frozenset({"example.com", "example.org", "example.net"})
# A call that got no answer. moto (the local stack) does not model SES v2's GetAccount nor SNS's SMS sandbox:
# its server answers an HTML error page botocore cannot parse, and in-process it raises NotImplementedError.
UNANSWERED = (ClientError, BotoCoreError, ResponseParserError, NotImplementedError)


@dataclass(frozen=True)
class Finding:
    status: str  # OK, PROBLEM or UNKNOWN
    check: str
    text: str

    def line(self) -> str:
        return f"{self.status:<8} {self.check}: {self.text}"


@dataclass(frozen=True)
class Target:
    """What the checks look at: from the stack's parameters and outputs, or the local stack's names."""

    sender_email: str | None
    alarm_topic_arn: str | None
    definitions_table: str | None
    provider_secrets_path: str | None


def _error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc)


def check_sender_identity(address: str | None) -> Finding:
    check = "email sender"
    if not address:
        return Finding(UNKNOWN, check, "the stack names no SenderEmail; give it with --sender-email")
    domain = address.rpartition("@")[2].lower()
    if domain in PLACEHOLDER_DOMAINS:
        return Finding(PROBLEM, check, f"{address} is a placeholder: deploy with SenderEmail set to an address you own")
    try:
        found = client("ses").get_identity_verification_attributes(Identities=[address, domain])
    except (ClientError, BotoCoreError) as exc:
        return Finding(UNKNOWN, check, f"could not read SES identities ({_error(exc)})")
    status = {name: attrs.get("VerificationStatus") for name, attrs in found["VerificationAttributes"].items()}
    if "Success" in (status.get(address), status.get(domain)):
        which = address if status.get(address) == "Success" else f"its domain {domain}"
        return Finding(OK, check, f"SES may send from {address} ({which} is verified)")
    if status.get(address) == "Pending":
        return Finding(
            PROBLEM,
            check,
            f"SES has not verified {address} yet: open the link SES mailed to it (valid 24 hours; "
            f"`aws ses verify-email-identity --email-address {address}` mails a new one); until then every "
            "email fails",
        )
    if status.get(domain) == "Pending":
        return Finding(
            PROBLEM, check, f"SES has not verified the domain {domain} yet: publish its DNS records (SES console)"
        )
    if status.get(address) or status.get(domain):
        return Finding(
            PROBLEM,
            check,
            f"SES verification of {address} failed ({status.get(address) or status.get(domain)}): "
            f"`aws ses verify-email-identity --email-address {address}` mails a new link",
        )
    return Finding(
        PROBLEM,
        check,
        f"SES has no identity for {address} nor for {domain}: deploy with SenderIdentityExists=false "
        "(the stack creates it and SES mails a verification link), or verify it in the SES console",
    )


def check_ses_production_access() -> Finding:
    check = "email sandbox"
    try:
        account = client("sesv2").get_account()
    except UNANSWERED as exc:
        return _ses_quota_finding(check, _error(exc))
    if not account.get("SendingEnabled", True):
        return Finding(PROBLEM, check, "SES sending is paused for this account (SES console, reputation dashboard)")
    quota = account.get("SendQuota", {})
    if not account.get("ProductionAccessEnabled"):
        return Finding(PROBLEM, check, _sandbox_text(quota.get("MaxSendRate"), quota.get("Max24HourSend")))
    return Finding(
        OK,
        check,
        f"SES production access; {_number(quota.get('MaxSendRate'))} a second, "
        f"{_number(quota.get('Max24HourSend'))} a day",
    )


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _sandbox_text(rate: Any, daily: Any) -> str:
    return (
        f"SES account in the sandbox ({_number(daily)} a day, {_number(rate)} a second): email reaches only "
        "verified addresses, and a batch of 10 is throttled. Request production access (SES console, "
        "Account dashboard; or `aws sesv2 put-account-details`)"
    )


def _ses_quota_finding(check: str, why: str) -> Finding:
    """SES v2's GetAccount unanswered (moto does not model it): the v1 quota tells a sandbox account too."""
    try:
        quota = client("ses").get_send_quota()
    except (ClientError, BotoCoreError) as exc:
        return Finding(UNKNOWN, check, f"could not ask SES for the account's status ({why}; {_error(exc)})")
    daily, rate = quota.get("Max24HourSend", 0), quota.get("MaxSendRate", 0)
    if daily <= SANDBOX_DAILY_QUOTA:
        return Finding(PROBLEM, check, _sandbox_text(rate, daily))
    return Finding(OK, check, f"SES quota {_number(rate)} a second, {_number(daily)} a day (beyond the sandbox's)")


def check_sms_sandbox() -> Finding:
    check = "SMS sandbox"
    try:
        status = client("sns").get_sms_sandbox_account_status()
    except UNANSWERED as exc:
        return Finding(UNKNOWN, check, f"could not ask SNS whether the account is in the SMS sandbox ({_error(exc)})")
    if status.get("IsInSandbox"):
        return Finding(
            PROBLEM,
            check,
            "SNS account in the SMS sandbox: SMS reach only phone numbers verified in it (SNS console, "
            "Text messaging); request to leave it for any other number",
        )
    return Finding(OK, check, "the account is out of the SMS sandbox")


def check_alarm_subscriptions(topic_arn: str | None) -> Finding:
    check = "alarms"
    if not topic_arn:
        return Finding(PROBLEM, check, "no alarm topic: alarms notify nobody")
    sns = client("sns")
    subscriptions: list[dict[str, Any]] = []
    try:
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
            subscriptions.extend(page.get("Subscriptions", []))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NotFound", "InvalidParameter"):
            return Finding(PROBLEM, check, f"the alarm topic {topic_arn} does not exist: alarms notify nobody")
        return Finding(UNKNOWN, check, f"could not list the alarm topic's subscriptions ({_error(exc)})")
    except BotoCoreError as exc:
        return Finding(UNKNOWN, check, f"could not list the alarm topic's subscriptions ({_error(exc)})")
    confirmed = [s for s in subscriptions if s.get("SubscriptionArn", "").startswith("arn:")]
    pending = [s.get("Endpoint", "?") for s in subscriptions if s not in confirmed]
    if confirmed:
        names = ", ".join(f"{s.get('Protocol')}:{s.get('Endpoint')}" for s in confirmed)
        extra = f"; not yet confirmed: {', '.join(pending)}" if pending else ""
        return Finding(OK, check, f"the alarm topic notifies {names}{extra}")
    if pending:
        return Finding(
            PROBLEM,
            check,
            f"nobody has confirmed the alarm subscription ({', '.join(pending)}): follow the link SNS mailed; "
            "until then alarms notify nobody",
        )
    return Finding(
        PROBLEM, check, "nobody is subscribed to the alarm topic: deploy with AlarmEmail=<address>, or subscribe one"
    )


def slack_workspaces(table: str) -> dict[str, list[str]]:
    """workspace -> names of its events with a Slack channel."""
    found: dict[str, list[str]] = {}
    for page in client("dynamodb").get_paginator("scan").paginate(TableName=table):
        for item in page.get("Items", []):
            definition_id = item.get("definition_id", {}).get("S", "")
            if not definition_id.startswith("event#"):
                continue
            try:
                channels = json.loads(item["body"]["S"]).get("channels", {})
            except (KeyError, ValueError, AttributeError):
                continue
            if "slack" in channels:
                found.setdefault(item["workspace"]["S"], []).append(definition_id.removeprefix("event#"))
    return found


def check_slack_tokens(table: str | None, path: str | None) -> Iterator[Finding]:
    check = "Slack"
    if not table or not path:
        yield Finding(UNKNOWN, check, "the stack names no definitions table or provider secrets path")
        return
    try:
        workspaces = slack_workspaces(table)
    except (ClientError, BotoCoreError) as exc:
        yield Finding(UNKNOWN, check, f"could not read the definitions table ({_error(exc)})")
        return
    if not workspaces:
        yield Finding(OK, check, "no workspace has an event with a Slack channel")
        return
    ssm = client("ssm")
    for workspace, events in sorted(workspaces.items()):
        name = secret_name(workspace, SLACK_BOT_TOKEN, path)
        try:
            # Whether it exists only: never decrypted, never printed.
            ssm.get_parameter(Name=name, WithDecryption=False)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ParameterNotFound":
                yield Finding(UNKNOWN, check, f"could not read {name} ({_error(exc)})")
                continue
            yield Finding(
                PROBLEM,
                check,
                f"workspace {workspace} has Slack events ({', '.join(sorted(events))}) but no Slack bot token: "
                "sends to a user, user email or channel fail (webhook URLs work); store one with set-slack-token",
            )
            continue
        except BotoCoreError as exc:
            yield Finding(UNKNOWN, check, f"could not read {name} ({_error(exc)})")
            continue
        yield Finding(OK, check, f"workspace {workspace} has a Slack bot token")


def diagnose(target: Target) -> list[Finding]:
    checks: list[Callable[[], Finding | Iterator[Finding]]] = [
        lambda: check_sender_identity(target.sender_email),
        check_ses_production_access,
        check_sms_sandbox,
        lambda: check_alarm_subscriptions(target.alarm_topic_arn),
        lambda: check_slack_tokens(target.definitions_table, target.provider_secrets_path),
    ]
    findings: list[Finding] = []
    for check in checks:
        result = check()
        findings.extend([result] if isinstance(result, Finding) else result)
    return findings
