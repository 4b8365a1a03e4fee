"""The product's metrics: what the alarms read is what the code emits, by the names docs/operations.md lists."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from botocore.retries.standard import ExponentialBackoff
from moto.core.exceptions import ServiceException
from moto.ses.models import SESBackend

from local.template import load_monitoring, load_template, resources_of_type
from tests.support.clients import EventApiClient, welcome
from tests.support.faults import fail_call
from tests.support.sender import SenderDriver
from tests.support.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = load_template()["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
SERVICE = load_template()["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]


class TooManyRequests(ServiceException):
    code = "TooManyRequestsException"


# Emitted by the sender once the `unknown` state exists (R8, docs/contract.md); alarmed on and documented already.
NOT_YET_EMITTED = {"NotificationsUnknown"}


def emitted(output: str) -> list[tuple[str, float, list[dict[str, str]]]]:
    """(metric, value, one {dimension: value} per dimension set) of every EMF record printed to stdout."""
    found = []
    for line in output.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        record = json.loads(line)
        for directive in record["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == NAMESPACE
            dimension_sets = [{name: record[name] for name in names} for names in directive["Dimensions"]]
            for metric in directive["Metrics"]:
                values = record[metric["Name"]]  # Powertools writes a list of values per metric
                found.append((metric["Name"], sum(values) if isinstance(values, list) else values, dimension_sets))
    return found


def counted(output: str, name: str, **dimensions: str) -> float:
    """The total of `name` under exactly the service plus `dimensions`."""
    wanted = {"service": SERVICE, **dimensions}
    return sum(value for metric, value, sets in emitted(output) if metric == name and wanted in sets)


def documented_metrics() -> set[str]:
    """The names in docs/operations.md's metrics table (first column, in backticks)."""
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE))


def code_metrics() -> set[str]:
    """Every literal name the code counts (`count("Name"...)`, or an API's `Queued.answer(..., metric="Name")`),
    and the sender's outcome names."""
    names: set[str] = set()
    for source in (ROOT / "layers").rglob("*.py"):
        names.update(re.findall(r'(?:count\(\s*|metric=)"(\w+)"', source.read_text()))
    from notify.logic.sender import _outcome_metric
    from notify.models.delivery import DeliveryState

    names.update(_outcome_metric(state) for state in DeliveryState)
    return names


def alarm_metrics() -> set[str]:
    """Metric names of the product's namespace read by the template's alarms."""
    names = set()
    for alarm in resources_of_type("AWS::CloudWatch::Alarm", load_monitoring()).values():
        props = alarm["Properties"]
        queries = props.get("Metrics", [{"MetricStat": {"Metric": props}}])
        for query in queries:
            metric = query.get("MetricStat", {}).get("Metric", {})
            if metric.get("Namespace") == NAMESPACE:
                names.add(metric["MetricName"])
    return names


def test_every_metric_the_code_emits_is_documented() -> None:
    assert code_metrics() - documented_metrics() == set()


def test_every_documented_metric_is_emitted_or_announced() -> None:
    assert documented_metrics() - code_metrics() <= NOT_YET_EMITTED


def test_alarms_read_documented_metrics_under_the_service_dimension() -> None:
    assert alarm_metrics() <= documented_metrics()
    assert {"NotificationsFailed", "NotificationsUnknown", "EnqueueFailed", "IdempotencyConflict"} <= alarm_metrics()
    for alarm in resources_of_type("AWS::CloudWatch::Alarm", load_monitoring()).values():
        props = alarm["Properties"]
        if props.get("Namespace") == NAMESPACE:
            assert props["Dimensions"] == [{"Name": "service", "Value": SERVICE}]


def test_failed_notification_is_counted_by_channel_and_in_total(
    stack: Stack, client: EventApiClient, sender: SenderDriver, capsys: pytest.CaptureFixture[str]
) -> None:
    from notify.dal.definitions import put_event_definition
    from notify.models.definitions import EventDefinition

    put_event_definition(
        stack.workspaces[0].workspace,
        EventDefinition.model_validate({"name": "Push", "channels": {"push": {"body": "hi"}}}),
    )
    client.post({"event": "Push", "to": {"push": "device-token-1"}})
    capsys.readouterr()
    sender.drain()

    output = capsys.readouterr().out
    assert counted(output, "NotificationsFailed") == 1  # what NotificationsFailedAlarm reads
    assert counted(output, "NotificationsFailed", channel="push") == 1  # what the dashboard splits


def test_provider_throttling_counts_retries_then_the_failure(
    client: EventApiClient, sender: SenderDriver, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(*args: Any, **kwargs: Any) -> Any:
        raise TooManyRequests("Maximum sending rate exceeded.")

    monkeypatch.setattr(SESBackend, "send_email", throttled)
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    client.post(welcome(), key="throttled-1")
    capsys.readouterr()
    sender.drain()

    output = capsys.readouterr().out
    max_receive_count = int(load_template()["Parameters"]["MaxReceiveCount"]["Default"])
    assert counted(output, "NotificationsRetried", channel="email") == max_receive_count - 1
    assert counted(output, "NotificationsFailed", channel="email") == 1
    assert counted(output, "NotificationsSent") == 0


def test_sent_and_replayed_requests_are_counted(
    client: EventApiClient, sender: SenderDriver, capsys: pytest.CaptureFixture[str]
) -> None:
    client.post(welcome(), key="metrics-1")
    client.post(welcome(), key="metrics-1")
    sender.drain()

    output = capsys.readouterr().out
    assert counted(output, "EventAccepted") == 1
    assert counted(output, "IdempotencyReplayed") == 1
    assert counted(output, "IdempotencyReplayed", api="event") == 1
    assert counted(output, "NotificationsSent", channel="email") == 1


def test_idempotency_store_outage_counts_a_503(
    stack: Stack, client: EventApiClient, capsys: pytest.CaptureFixture[str]
) -> None:
    with fail_call("dynamodb", "PutItem", table=stack.resources.tables["IdempotencyTable"]):
        answer = client.post(welcome(), key="outage-1")

    assert answer.status == 503
    output = capsys.readouterr().out
    assert counted(output, "ServiceUnavailable") == 1
    assert counted(output, "IdempotencyStoreUnavailable") == 1
    assert counted(output, "IdempotencyStoreUnavailable", api="event") == 1


def test_a_batch_writes_one_metrics_record_per_channel_with_its_total(
    client: EventApiClient, sender: SenderDriver, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sender adds a batch's outcomes up (issue 25: one log line per outcome, not two): three emails sent in one
    invocation are one EMF record counting 3, under the service and per channel as before."""
    for number in range(3):
        client.post(welcome(), key=f"batch-{number}")
    capsys.readouterr()
    assert sender.run_once() == 3

    output = capsys.readouterr().out
    records = [line for line in output.splitlines() if line.startswith('{"_aws"') and "NotificationsSent" in line]
    assert len(records) == 1
    assert counted(output, "NotificationsSent") == 3
    assert counted(output, "NotificationsSent", channel="email") == 3


def test_a_count_by_dimension_is_the_line_powertools_writes(capsys: pytest.CaptureFixture[str]) -> None:
    """`count` serialises a record once per metric, value and dimensions (issue 25: a replay used to build a
    Powertools provider each time); every line is still Powertools' own, with the time of the call."""
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    from notify.observability import count

    capsys.readouterr()
    for value in (1, 1, 3):
        count("IdempotencyReplayed", value, api="event")
        record = AmazonCloudWatchEMFProvider()
        record.add_metric(name="IdempotencyReplayed", unit=MetricUnit.Count, value=value)
        record.add_dimensions(service=str(record.service), api="event")
        record.flush_metrics()

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 6
    for ours, theirs in zip(lines[::2], lines[1::2], strict=True):
        assert abs(ours["_aws"].pop("Timestamp") - theirs["_aws"].pop("Timestamp")) < 1000
        assert ours == theirs
    assert [line["IdempotencyReplayed"] for line in lines[::2]] == [[1.0], [1.0], [3.0]]
