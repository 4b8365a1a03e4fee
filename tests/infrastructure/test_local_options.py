"""Local stack options of issue 6: template parameter overrides and the DynamoDB backend choice."""

from __future__ import annotations

import pytest

from local.lambda_environment import lambda_environment
from local.settings import InvalidSetting, LocalSettings, parse_parameter_overrides
from local.template import LocalResources, function_environment, function_specs


def test_parameter_overrides_are_read_as_sam_takes_them() -> None:
    assert parse_parameter_overrides("IdempotencyExpirySeconds=4  MaxReceiveCount=2") == {
        "IdempotencyExpirySeconds": "4",
        "MaxReceiveCount": "2",
    }
    assert parse_parameter_overrides("") == {}
    with pytest.raises(InvalidSetting, match="'oops' is not Name=Value"):
        parse_parameter_overrides("oops")


def test_an_overridden_parameter_reaches_the_functions_environment() -> None:
    overridden = LocalResources(region="us-east-1", parameters={"IdempotencyExpirySeconds": "4"})
    default = LocalResources(region="us-east-1")
    assert function_environment("EventApiFunction", overridden)["IDEMPOTENCY_EXPIRY_SECONDS"] == "4"
    assert function_environment("EventApiFunction", default)["IDEMPOTENCY_EXPIRY_SECONDS"] == "86400"


def test_dynamodb_local_is_opt_in_and_only_dynamodb_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = function_specs(LocalResources(region="us-east-1"))[0]
    monkeypatch.delenv("LOCAL_DYNAMODB", raising=False)
    on_moto = LocalSettings.from_environment()
    assert on_moto.dynamodb_url is None
    assert "AWS_ENDPOINT_URL_DYNAMODB" not in lambda_environment(spec, {}, on_moto, "python3.13")

    monkeypatch.setenv("LOCAL_DYNAMODB", "dynamodb-local")
    monkeypatch.setenv("LOCAL_DYNAMODB_PORT", "8123")
    monkeypatch.setenv("MOTO_PORT", "5123")
    environment = lambda_environment(spec, {}, LocalSettings.from_environment(), "python3.13")
    assert environment["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:8123"
    assert environment["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5123"

    monkeypatch.setenv("LOCAL_DYNAMODB", "dynalite")
    with pytest.raises(InvalidSetting, match="LOCAL_DYNAMODB must be one of: moto, dynamodb-local"):
        LocalSettings.from_environment()
