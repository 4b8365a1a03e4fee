"""Reads template.yaml: the one source of truth for tables, queues, functions and their environment.

Tests and the local stack create their resources from here, so nothing repeats the template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
# The alarms, their topic and the dashboard: a nested stack of template.yaml (its `Monitoring` resource).
MONITORING_PATH = ROOT / "monitoring.yaml"


@cache
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain JSON-like data, short tags (!Ref, !GetAtt, !Sub...) in their long form, read by
    cfn-lint's decoder (the parser `make template-check` runs), not a loader of our own."""
    from cfnlint.decode import cfn_yaml

    # cfn-lint's nodes carry line numbers; a JSON round trip makes them the plain dicts, lists and strings the
    # local stacks and the tests compare with.
    return dict(json.loads(json.dumps(cfn_yaml.load(str(path)))))


@cache
def load_monitoring() -> dict[str, Any]:
    """monitoring.yaml as template.yaml instantiates it: each parameter the parent passes is replaced by what it
    passes (a Ref or GetAtt of the parent's own resources and parameters), in values and in Fn::Sub strings, so
    its alarms and dashboard read as if they stood in template.yaml."""
    passed: dict[str, Any] = load_template()["Resources"]["Monitoring"]["Properties"]["Parameters"]

    def placeholder(value: Any) -> str:
        return value["Ref"] if "Ref" in value else ".".join(value["Fn::GetAtt"])

    def instantiate(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Ref"} and node["Ref"] in passed:
                return passed[node["Ref"]]
            if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
                text = node["Fn::Sub"]
                for name, value in passed.items():
                    text = text.replace("${" + name + "}", "${" + placeholder(value) + "}")
                return {"Fn::Sub": text}
            return {key: instantiate(value) for key, value in node.items()}
        if isinstance(node, list):
            return [instantiate(value) for value in node]
        return node

    return dict(instantiate(load_template(MONITORING_PATH)))


def resources_of_type(resource_type: str, template: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    template = template or load_template()
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


@dataclass
class LocalResources:
    """Physical names of the template's resources once created on the local backend."""

    region: str
    account: str = "123456789012"
    template: dict[str, Any] = field(default_factory=load_template)
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name
    queues: dict[str, dict[str, str]] = field(default_factory=dict)  # logical id -> {url, arn, name}
    topics: dict[str, str] = field(default_factory=dict)  # logical id -> SNS topic ARN
    # Parameter values instead of the template's defaults, as `sam deploy --parameter-overrides` gives them.
    parameters: dict[str, str] = field(default_factory=dict)

    def ref(self, logical_id: str) -> str:
        if logical_id in self.tables:
            return self.tables[logical_id]
        if logical_id in self.queues:
            return self.queues[logical_id]["url"]
        if logical_id in self.topics:
            return self.topics[logical_id]
        parameter = self.template.get("Parameters", {}).get(logical_id)
        if parameter is not None and logical_id in self.parameters:
            return self.parameters[logical_id]
        if parameter is not None:
            return str(parameter.get("Default", ""))
        pseudo = {"AWS::Region": self.region, "AWS::AccountId": self.account, "AWS::StackName": "local"}
        if logical_id in pseudo:
            return pseudo[logical_id]
        return logical_id  # functions, layers, APIs: their logical id stands in for a physical id

    def get_att(self, logical_id: str, attribute: str) -> str:
        if logical_id in self.queues:
            return self.queues[logical_id]["arn" if attribute == "Arn" else "name"]
        if logical_id in self.tables and attribute == "Arn":
            return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{self.tables[logical_id]}"
        raise KeyError(f"{logical_id}.{attribute} is not available locally")

    def resolve(self, value: Any) -> Any:
        """Resolve Ref/GetAtt/Sub in a template value to local physical values."""
        if isinstance(value, dict) and len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return self.ref(argument)
            if name == "Fn::GetAtt":
                return self.get_att(*argument)
            if name == "Fn::Sub":
                text = argument if isinstance(argument, str) else argument[0]
                for placeholder in _placeholders(text):
                    target = placeholder.split(".", 1)
                    resolved = self.get_att(*target) if len(target) == 2 else self.ref(placeholder)
                    text = text.replace("${" + placeholder + "}", resolved)
                return text
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value


def _placeholders(text: str) -> list[str]:
    found = []
    start = text.find("${")
    while start != -1:
        end = text.index("}", start)
        found.append(text[start + 2 : end])
        start = text.find("${", end)
    return found


def create_resources(
    session: Any, region: str, template: dict[str, Any] | None = None, parameters: dict[str, str] | None = None
) -> LocalResources:
    """Create every DynamoDB table and SQS queue of the template (TTL and redrive included).

    Nothing else runs locally: log groups, the alarms, their SNS topic and KMS key, and the dashboard
    (docs/operations.md) exist on AWS only, so they are not created here.
    `parameters` override the template's parameter defaults (names the template declares).
    """
    template = template or load_template()
    local = LocalResources(region=region, template=template, parameters=dict(parameters or {}))
    dynamodb = session.client("dynamodb", region_name=region)
    for logical_id, resource in resources_of_type("AWS::DynamoDB::Table", template).items():
        props = resource["Properties"]
        name = props.get("TableName") or logical_id
        arguments: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        for optional in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification"):
            if optional in props:
                arguments[optional] = props[optional]
        dynamodb.create_table(**arguments)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
            )
        local.tables[logical_id] = name

    sqs = session.client("sqs", region_name=region)
    queues = resources_of_type("AWS::SQS::Queue", template)
    # Dead-letter queues first: a redrive policy names its target's ARN.
    ordered = sorted(queues.items(), key=lambda item: "RedrivePolicy" in item[1].get("Properties", {}))
    for logical_id, resource in ordered:
        props = resource.get("Properties", {})
        name = props.get("QueueName") or logical_id
        attributes: dict[str, str] = {}
        for prop, attribute in (
            ("VisibilityTimeout", "VisibilityTimeout"),
            ("MessageRetentionPeriod", "MessageRetentionPeriod"),
            ("DelaySeconds", "DelaySeconds"),
            ("MaximumMessageSize", "MaximumMessageSize"),
        ):
            if prop in props:
                attributes[attribute] = str(local.resolve(props[prop]))
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(local.resolve(props["RedrivePolicy"]))
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        local.queues[logical_id] = {"url": url, "arn": arn, "name": name}
    _create_topics_and_their_sources(session, region, template, local)
    return local


def sns_source_queue(function: str, event: str) -> str:
    """The queue standing in for Lambda's SNS subscription of one function's `SNS` event (local only)."""
    return f"{function}{event}Subscription"


def _create_topics_and_their_sources(
    session: Any, region: str, template: dict[str, Any], local: LocalResources
) -> None:
    """Every SNS topic, and for each function's `SNS` event a queue subscribed to its topic: Lambda's SNS event source
    is emulated by polling it (local/event_sources.py hands the function SNS records)."""
    sns = session.client("sns", region_name=region)
    sqs = session.client("sqs", region_name=region)
    for logical_id in resources_of_type("AWS::SNS::Topic", template):
        local.topics[logical_id] = sns.create_topic(Name=logical_id)["TopicArn"]
    for function, resource in resources_of_type("AWS::Serverless::Function", template).items():
        for event, spec in resource.get("Properties", {}).get("Events", {}).items():
            if spec.get("Type") != "SNS":
                continue
            name = sns_source_queue(function, event)
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=local.resolve(spec["Properties"]["Topic"]), Protocol="sqs", Endpoint=arn)
            local.queues[name] = {"url": url, "arn": arn, "name": name}


def function_environment(function_logical_id: str, local: LocalResources) -> dict[str, str]:
    """The environment the template gives one function: Globals merged with its own, references resolved."""
    template = local.template
    merged: dict[str, Any] = dict(
        template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    function = template["Resources"][function_logical_id]
    merged.update(function["Properties"].get("Environment", {}).get("Variables", {}))
    return {name: str(local.resolve(value)) for name, value in merged.items()}


@dataclass(frozen=True)
class HttpRoute:
    """One `HttpApi` event of a function: `method` is upper case or ANY, `path` may hold {param} and {proxy+}."""

    function: str
    method: str
    path: str

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class SqsEventSource:
    """One `SQS` event of a function, with Lambda's defaults for what the template leaves out."""

    function: str
    queue: str  # logical id of the queue
    batch_size: int = 10
    batching_window_seconds: int = 0
    report_batch_item_failures: bool = False
    enabled: bool = True
    # An `SNS` event, emulated: `queue` is subscribed to this topic (its ARN), and the function gets SNS records.
    sns_topic_arn: str | None = None


@dataclass(frozen=True)
class FunctionSpec:
    """What the Lambda runtime needs to run one function: code, handler, limits and layer directories."""

    logical_id: str
    code_uri: Path
    handler: str
    timeout_seconds: int
    memory_size: int
    layers: tuple[Path, ...]
    http_routes: tuple[HttpRoute, ...]
    sqs_event_sources: tuple[SqsEventSource, ...]


# Lambda's own defaults for properties neither the function nor Globals set.
_DEFAULT_TIMEOUT_SECONDS = 3
_DEFAULT_MEMORY_SIZE = 128


def function_specs(local: LocalResources, template_dir: Path = ROOT) -> list[FunctionSpec]:
    """Every AWS::Serverless::Function, Globals applied, paths relative to the template's directory."""
    template = local.template
    defaults = template.get("Globals", {}).get("Function", {})
    specs = []
    for logical_id, resource in resources_of_type("AWS::Serverless::Function", template).items():
        props = {**defaults, **resource.get("Properties", {})}
        # SAM appends a function's own layers to the global ones.
        layer_refs = [*defaults.get("Layers", []), *resource.get("Properties", {}).get("Layers", [])]
        events = resource.get("Properties", {}).get("Events", {})
        specs.append(
            FunctionSpec(
                logical_id=logical_id,
                code_uri=template_dir / str(props.get("CodeUri", ".")),
                handler=str(props["Handler"]),
                timeout_seconds=int(local.resolve(props.get("Timeout", _DEFAULT_TIMEOUT_SECONDS))),
                memory_size=int(local.resolve(props.get("MemorySize", _DEFAULT_MEMORY_SIZE))),
                layers=tuple(_layer_directories(layer_refs, template, template_dir)),
                http_routes=tuple(_http_routes(logical_id, events, local)),
                sqs_event_sources=tuple(_sqs_event_sources(logical_id, events, local)),
            )
        )
    return specs


def _layer_directories(layer_refs: list[Any], template: dict[str, Any], template_dir: Path) -> list[Path]:
    """The ContentUri of each layer defined in this template; layers given by ARN cannot run locally."""
    directories = []
    for layer in layer_refs:
        if isinstance(layer, dict) and "Ref" in layer:
            resource = template["Resources"].get(layer["Ref"], {})
            if resource.get("Type") == "AWS::Serverless::LayerVersion":
                directories.append(template_dir / str(resource["Properties"]["ContentUri"]))
    return directories


def _http_routes(function: str, events: dict[str, Any], local: LocalResources) -> list[HttpRoute]:
    routes = []
    for event in events.values():
        if event.get("Type") != "HttpApi":
            continue
        props = event.get("Properties", {})
        method = str(local.resolve(props.get("Method", "ANY"))).upper()
        routes.append(
            HttpRoute(function=function, method=method, path=str(local.resolve(props.get("Path", "$default"))))
        )
    return routes


def _sqs_event_sources(function: str, events: dict[str, Any], local: LocalResources) -> list[SqsEventSource]:
    sources = []
    for name, event in events.items():
        if event.get("Type") == "SNS" and sns_source_queue(function, name) in local.queues:
            topic = str(local.resolve(event["Properties"]["Topic"]))
            sources.append(
                SqsEventSource(
                    function=function, queue=sns_source_queue(function, name), batch_size=1, sns_topic_arn=topic
                )
            )
        if event.get("Type") != "SQS":
            continue
        props = event["Properties"]
        queue = props["Queue"]
        # Queue is normally !GetAtt Queue.Arn; an ARN or a Ref names the queue by its last part.
        if isinstance(queue, dict):
            queue_id = queue["Fn::GetAtt"][0] if "Fn::GetAtt" in queue else queue.get("Ref", "")
        else:
            queue_id = str(queue).rsplit(":", 1)[-1]
        sources.append(
            SqsEventSource(
                function=function,
                queue=queue_id,
                batch_size=int(local.resolve(props.get("BatchSize", 10))),
                batching_window_seconds=int(local.resolve(props.get("MaximumBatchingWindowInSeconds", 0))),
                report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                enabled=bool(local.resolve(props.get("Enabled", True))),
            )
        )
    return sources
