"""template.yaml and the code agree: handlers exist, routes are served, the runtime is as designed."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.template import load_template, resources_of_type

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
    assert f"def {attribute}(" in source.read_text()


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_http_route_of_the_template_is_served_by_its_function(logical_id: str) -> None:
    properties = FUNCTIONS[logical_id]["Properties"]
    source = (ROOT / properties["CodeUri"] / "app.py").read_text()
    for event in properties.get("Events", {}).values():
        if event["Type"] != "HttpApi":
            continue
        resolver_path = event["Properties"]["Path"].replace("{", "<").replace("}", ">")
        method = event["Properties"]["Method"].lower()
        assert f'@app.{method}("{resolver_path}")' in source


def test_idempotency_table_expires_records_by_ttl() -> None:
    table = load_template()["Resources"]["IdempotencyTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_notification_queue_is_encrypted_with_a_dead_letter_queue() -> None:
    queue = load_template()["Resources"]["NotificationQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["NotificationDLQ", "Arn"]}
