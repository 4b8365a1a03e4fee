"""AWS delivery providers: Amazon SES v2 for email, Amazon SNS for SMS. Errors propagate as botocore errors."""

from __future__ import annotations

from typing import Any

from notify.dal.clients import client


def send_email(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    configuration_set: str | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    """Send one email through SES v2; returns SES's MessageId. With a configuration set, SES publishes its delivery,
    bounce and complaint events, carrying `tags` (notify.logic.provider_events maps them back)."""
    extra: dict[str, Any] = {}
    if configuration_set:
        extra["ConfigurationSetName"] = configuration_set
        extra["EmailTags"] = [{"Name": name, "Value": value} for name, value in (tags or {}).items()]
    body: dict[str, Any] = {"Text": {"Data": text, "Charset": "UTF-8"}}
    if html is not None:
        body["Html"] = {"Data": html, "Charset": "UTF-8"}
    response = client("sesv2").send_email(
        FromEmailAddress=sender,
        Destination={"ToAddresses": [to]},
        Content={"Simple": {"Subject": {"Data": subject, "Charset": "UTF-8"}, "Body": body}},
        **extra,
    )
    return str(response["MessageId"])


def publish_sms(*, phone_number: str, text: str) -> str:
    """Send one SMS through SNS (transactional: these are notifications a user is waiting for)."""
    response = client("sns").publish(
        PhoneNumber=phone_number,
        Message=text,
        MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
    )
    return str(response["MessageId"])
