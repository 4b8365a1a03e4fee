"""template.yaml and the code agree: handlers exist, routes are served, the runtime is as designed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from local.template import load_monitoring, load_template, resources_of_type
from notify.environment import REQUIRED
from notify.routes import ROUTES, trailing_slash_twin
from tests.support.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = resources_of_type("AWS::Serverless::Function")


def test_functions_run_python313_on_arm64_with_the_shared_layer() -> None:
    template = load_template()
    globals_ = template["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    # arm64 unless overridden: `make run-sam` builds and runs the host's architecture for sam local.
    assert template["Parameters"]["Architecture"]["Default"] == "arm64"
    assert globals_["Architectures"] == [{"Ref": "Architecture"}]
    assert globals_["Layers"] == [{"Ref": "SharedLayer"}]
    layer = template["Resources"]["SharedLayer"]
    assert layer["Metadata"]["BuildArchitecture"] == {"Ref": "Architecture"}
    assert layer["Properties"]["CompatibleArchitectures"] == [{"Ref": "Architecture"}]


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_handler_exists(logical_id: str) -> None:
    properties = FUNCTIONS[logical_id]["Properties"]
    module, _, attribute = properties["Handler"].rpartition(".")
    source = ROOT / properties["CodeUri"] / f"{module}.py"
    assert source.is_file()
    # Defined there, or the one a factory made (notify.api.http_function, notify.batch.queue_function).
    text = source.read_text()
    made = (f"def {attribute}(", f"\n{attribute} = function.{attribute}\n", f"\n{attribute} = queue_function(")
    assert any(definition in text for definition in made)


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_the_template_gives_every_function_the_variables_it_requires_at_cold_start(logical_id: str) -> None:
    properties = FUNCTIONS[logical_id]["Properties"]
    directory = Path(properties["CodeUri"]).name
    given = {
        **load_template()["Globals"]["Function"].get("Environment", {}).get("Variables", {}),
        **properties.get("Environment", {}).get("Variables", {}),
    }
    assert set(REQUIRED[directory]) <= set(given)
    # Each function names itself to the check: directly, or through its factory (notify.api, notify.batch).
    source = (ROOT / properties["CodeUri"] / "app.py").read_text()
    named = (f'require_environment("{directory}")', f'http_function("{directory}"', f'queue_function("{directory}"')
    assert any(call in source for call in named)


def http_events() -> list[tuple[str, dict[str, Any]]]:
    """(function logical id, HttpApi event properties) for every HttpApi event of the template."""
    return [
        (logical_id, event["Properties"])
        for logical_id, function in FUNCTIONS.items()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    ]


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_http_route_of_the_template_is_served_by_its_function(logical_id: str) -> None:
    properties = FUNCTIONS[logical_id]["Properties"]
    source = (ROOT / properties["CodeUri"] / "app.py").read_text()
    for function, event in http_events():
        if function != logical_id or "Path" not in event or event["Path"].endswith("/"):
            continue  # the $default route and the trailing-slash twins: the resolver serves them (notify.api)
        resolver_path = event["Path"].replace("{", "<").replace("}", ">")
        declared = f'@function.{event["Method"].lower()}("{resolver_path}"'
        assert f"{declared})" in source or f"{declared}, idempotent=" in source


def test_every_route_also_answers_with_a_trailing_slash_on_the_same_function() -> None:
    routes = {(event["Method"], event["Path"]): function for function, event in http_events() if "Path" in event}
    for (method, path), function in routes.items():
        twin = path[:-1] if path.endswith("/") else trailing_slash_twin(path)
        assert routes.get((method, twin)) == function, f"{method} {path} has no twin {twin} on {function}"


def test_the_route_table_that_answers_404_and_405_is_the_templates() -> None:
    declared = {(event["Method"], event["Path"]) for _, event in http_events() if "Path" in event}
    assert {route for route in declared if not route[1].endswith("/")} == set(ROUTES)
    # Everything else reaches the $default route (no Path, no Method), the function that answers from ROUTES.
    unmatched = [(function, event) for function, event in http_events() if "Path" not in event]
    assert [(function, "Method" in event) for function, event in unmatched] == [("OpenApiFunction", False)]


def test_idempotency_table_expires_records_by_ttl() -> None:
    table = load_template()["Resources"]["IdempotencyTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_notification_queue_is_encrypted_with_a_dead_letter_queue() -> None:
    queue = load_template()["Resources"]["NotificationQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["NotificationDLQ", "Arn"]}


# Operations (docs/operations.md): alarms, their topic and the dashboard -----------------------------------

# The alarms and the dashboard stand in monitoring.yaml, a nested stack: read as template.yaml instantiates it.
ALARMS = resources_of_type("AWS::CloudWatch::Alarm", load_monitoring())
QUEUES = resources_of_type("AWS::SQS::Queue")
PLACEHOLDER = re.compile(r"\$\{([^}!]+)\}")


def alarm_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads: its own, or each MetricStat of its metric math."""
    props = alarm["Properties"]
    if "Metrics" in props:
        return [query["MetricStat"]["Metric"] for query in props["Metrics"] if "MetricStat" in query]
    return [props]


def alarms_on(namespace: str, metric: str, dimension: str, target: Any) -> list[str]:
    return [
        logical_id
        for logical_id, alarm in ALARMS.items()
        for read in alarm_metrics(alarm)
        if read["Namespace"] == namespace
        and read["MetricName"] == metric
        and {"Name": dimension, "Value": target} in read.get("Dimensions", [])
    ]


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_has_an_errors_and_a_throttles_alarm(logical_id: str) -> None:
    for metric in ("Errors", "Throttles"):
        assert alarms_on("AWS/Lambda", metric, "FunctionName", {"Ref": logical_id}), f"{logical_id} {metric}"


@pytest.mark.parametrize("logical_id", sorted(QUEUES))
def test_every_queue_has_an_age_alarm(logical_id: str) -> None:
    queue_name = {"Fn::GetAtt": [logical_id, "QueueName"]}
    assert alarms_on("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue_name)


def test_dead_letters_raise_an_alarm_from_the_first_one() -> None:
    [alarm] = alarms_on(
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", {"Fn::GetAtt": ["NotificationDLQ", "QueueName"]}
    )
    props = ALARMS[alarm]["Properties"]
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert load_template()["Parameters"][props["Threshold"]["Ref"]]["Default"] == 1


def test_the_http_api_has_5xx_rate_and_p99_latency_alarms() -> None:
    api = {"Ref": "HttpApi"}
    assert alarms_on("AWS/ApiGateway", "5xx", "ApiId", api) and alarms_on("AWS/ApiGateway", "Count", "ApiId", api)
    [latency] = alarms_on("AWS/ApiGateway", "Latency", "ApiId", api)
    assert ALARMS[latency]["Properties"]["ExtendedStatistic"] == "p99"


@pytest.mark.parametrize("logical_id", sorted(ALARMS))
def test_every_alarm_notifies_the_topic_says_what_to_do_and_has_a_parameter_threshold(logical_id: str) -> None:
    props = ALARMS[logical_id]["Properties"]
    assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert props["OKActions"] == [{"Ref": "AlarmTopic"}]
    assert f"docs/operations.md#{logical_id.lower()}" in props["AlarmDescription"]
    assert len(props["AlarmDescription"]) <= 1024  # CloudWatch's limit
    parameter = load_template()["Parameters"][props["Threshold"]["Ref"]]
    assert "Default" in parameter and parameter["Description"]


@pytest.mark.parametrize("logical_id", sorted(ALARMS))
def test_every_alarm_has_its_runbook_section(logical_id: str) -> None:
    assert f"\n### {logical_id}\n" in (ROOT / "docs" / "operations.md").read_text()


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use() -> None:
    resources = load_monitoring()["Resources"]
    assert resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    key = resources["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    cloudwatch = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(cloudwatch[0]["Action"])


def test_alarm_email_is_optional() -> None:
    template = load_template()
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""
    subscription = load_monitoring()["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["TopicArn"] == {"Ref": "AlarmTopic"}


def dashboard_body() -> tuple[str, dict[str, Any]]:
    """The dashboard's JSON template, and the JSON it becomes once CloudFormation fills its placeholders."""
    text = load_monitoring()["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return text, json.loads(PLACEHOLDER.sub(lambda match: f"resolved-{match[1]}", text))


def test_dashboard_is_json_once_its_placeholders_are_filled() -> None:
    _, body = dashboard_body()
    assert body["widgets"]


def test_dashboard_placeholders_name_resources_parameters_or_pseudo_parameters() -> None:
    template = load_template()
    text, _ = dashboard_body()
    for placeholder in PLACEHOLDER.findall(text):
        name, _, attribute = placeholder.partition(".")
        if name.startswith("AWS::"):
            continue
        resources = {**template["Resources"], **load_monitoring()["Resources"]}
        assert name in resources or name in template["Parameters"], placeholder
        if attribute:
            assert attribute in ("Arn", "QueueName"), placeholder


def test_dashboard_shows_every_alarm_and_reads_only_documented_metrics() -> None:
    _, body = dashboard_body()
    namespace = load_template()["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    [alarm_widget] = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert {arn.removeprefix("resolved-").removesuffix(".Arn") for arn in alarm_widget["properties"]["alarms"]} == set(
        ALARMS
    )
    operations = (ROOT / "docs" / "operations.md").read_text()
    read = [
        metric
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for metric in widget["properties"]["metrics"]
        if isinstance(metric[0], str)
    ]
    for metric in read:
        if metric[0] == namespace:
            assert f"| `{metric[1]}` |" in operations, metric[1]
        else:
            assert metric[0] in ("AWS/ApiGateway", "AWS/Lambda", "AWS/SQS"), metric
            # AWS metrics of this stack's own resources, named by placeholder.
            assert metric[3].startswith("resolved-"), metric
    shown = {metric[1] for metric in read}
    assert {
        "Count",
        "4xx",
        "5xx",
        "Latency",
        "IdempotencyReplayed",
        "NotificationsFailed",
        "NotificationsUnknown",
    } <= shown
    assert {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"} <= shown


def test_local_stack_creates_tables_and_queues_and_ignores_the_monitoring_resources(stack: Stack) -> None:
    """`make run` and the tests build only what runs locally; alarms, their topic, key and dashboard exist on AWS only.
    The provider-events topic runs locally, with a queue standing in for Lambda's SNS subscription."""
    assert set(stack.resources.tables) == set(resources_of_type("AWS::DynamoDB::Table"))
    assert set(stack.resources.queues) == set(QUEUES) | {"ProviderEventsFunctionSesEventsSubscription"}
    sns = stack.session.client("sns", region_name="us-east-1")
    cloudwatch = stack.session.client("cloudwatch", region_name="us-east-1")
    assert [topic["TopicArn"].rsplit(":", 1)[1] for topic in sns.list_topics()["Topics"]] == ["ProviderEventsTopic"]
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []


# Deploys right the first time (docs/deploy.md) ----------------------------------------------------------------


def test_the_stack_creates_the_sender_identity_unless_the_operator_says_ses_has_it() -> None:
    template = load_template()
    identity = template["Resources"]["SenderIdentity"]
    assert identity["Type"] == "AWS::SES::EmailIdentity"
    assert identity["Properties"]["EmailIdentity"] == {"Ref": "SenderEmail"}
    assert template["Conditions"][identity["Condition"]] == {"Fn::Equals": [{"Ref": "SenderIdentityExists"}, "false"]}
    assert template["Parameters"]["SenderIdentityExists"]["Default"] == "false"


def test_a_deploy_refuses_the_placeholder_sender() -> None:
    template = load_template()
    placeholder = template["Parameters"]["SenderEmail"]["Default"]
    [assertion] = template["Rules"]["SenderEmailIsYours"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "SenderEmail"}, placeholder]}]}
    assert "docs/deploy.md" in assertion["AssertDescription"]


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_logs_to_a_group_the_stack_creates_before_it(logical_id: str) -> None:
    """A group named after the function depends on it, so Lambda (a SnapStart version's init) can create it
    first and the stack fails with "already exists"; the function names its group, which exists first."""
    resources = load_template()["Resources"]
    group = FUNCTIONS[logical_id]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    name = resources[group]["Properties"]["LogGroupName"]
    assert resources[group]["Type"] == "AWS::Logs::LogGroup"
    assert name["Fn::Sub"].startswith("/aws/lambda/${AWS::StackName}-")
    assert logical_id not in json.dumps(resources[group]), "the group must not depend on its function"


def test_dashboard_counts_requests_and_cold_starts_of_every_api_function_and_snapstart_restores() -> None:
    _, body = dashboard_body()
    [requests] = [w for w in body["widgets"] if w["properties"]["title"].startswith("Requests")]
    invoked = {m[3] for m in requests["properties"]["metrics"] if m[0] == "AWS/Lambda"}
    assert invoked == {
        f"resolved-{f}" for f in FUNCTIONS if f not in ("SenderFunction", "ReporterFunction", "ProviderEventsFunction")
    }
    [cold] = [w for w in body["widgets"] if w["type"] == "log"]
    query = cold["properties"]["query"]
    assert {f"resolved-{f.removesuffix('Function')}Logs" for f in FUNCTIONS} == set(
        re.findall(r"SOURCE '([^']+)'", query)
    )
    assert "ispresent(@initDuration)" in query and "Restore Duration" in query


def test_the_sender_may_consume_only_the_notification_queue() -> None:
    """SAM gives an SQS consumer AWSLambdaSQSQueueExecutionRole (every queue); a Deny narrows it."""
    policies = FUNCTIONS["SenderFunction"]["Properties"]["Policies"]
    denies = [
        statement
        for policy in policies
        if isinstance(policy, dict)
        for statement in policy.get("Statement", [])
        if statement["Effect"] == "Deny" and "sqs:ReceiveMessage" in statement["Action"]
    ]
    assert denies == [
        {
            "Sid": "ConsumeOnlyTheNotificationQueue",
            "Effect": "Deny",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "NotResource": {"Fn::GetAtt": ["NotificationQueue", "Arn"]},
        }
    ]
