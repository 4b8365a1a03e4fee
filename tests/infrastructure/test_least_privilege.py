"""Least privilege in template.yaml, checked against what the code really calls (docs/contract.md section 4, R8).

The API functions may write the delivery log only as they do (request manifests) and cannot read
provider secrets; only the sender reads them, and it may send email only from the configured identity.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.template import function_environment, load_template
from notify.dal.clients import client
from tests.support.clients import ApiClient, AutomationApiClient, BulkApiClient, EventApiClient, welcome
from tests.support.faults import queue_refuses
from tests.support.sender import SenderDriver
from tests.support.stack import FakeLambdaContext, Stack

API_FUNCTIONS = (
    "EventApiFunction",
    "BulkApiFunction",
    "AutomationApiFunction",
    "StatusApiFunction",
    "ProfilesApiFunction",
)
RESOURCES = load_template()["Resources"]
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def statements(function: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in RESOURCES[function]["Properties"].get("Policies", []):
        found.extend(policy.get("Statement", []) if isinstance(policy, dict) else [])
    return found


def actions_on(function: str, table: str) -> set[str]:
    """DynamoDB actions the function's inline statements allow on `table` (and any SAM template naming it)."""
    allowed: set[str] = set()
    for policy in RESOURCES[function]["Properties"].get("Policies", []):
        for name, argument in policy.items():
            if name != "Statement" and argument == {"TableName": {"Ref": table}}:
                allowed.add(f"template:{name}")
    for statement in statements(function):
        if statement.get("Resource") == {"Fn::GetAtt": [table, "Arn"]}:
            actions = statement["Action"]
            allowed.update([actions] if isinstance(actions, str) else actions)
    return allowed


@pytest.fixture
def dynamodb_calls(stack: Stack) -> Iterator[list[tuple[str, str]]]:
    """(operation, table) of every DynamoDB call the product makes."""
    calls: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "TransactWriteItems":
            # IAM authorises each item of a transaction as its own action (Put -> PutItem, ...).
            for item in params["TransactItems"]:
                [(kind, write)] = item.items()
                calls.append((TRANSACT_ACTIONS[kind], write["TableName"]))
            return
        tables = [params["TableName"]] if "TableName" in params else list(params.get("RequestItems", {}))
        calls.extend((model.name, table) for table in tables)

    events = client("dynamodb").meta.events
    events.register("before-parameter-build.dynamodb", record, unique_id="least-privilege")
    yield calls
    events.unregister("before-parameter-build.dynamodb", unique_id="least-privilege")


@pytest.mark.parametrize(
    ("function", "api", "body"),
    [
        ("EventApiFunction", EventApiClient, welcome()),
        ("BulkApiFunction", BulkApiClient, {"event": "Welcome_Email", "batch": [welcome(), welcome("b@example.com")]}),
        ("AutomationApiFunction", AutomationApiClient, {"email": "a@example.com", "name": "A", "order": {}}),
    ],
)
def test_R8_api_functions_may_write_the_delivery_log_only_as_they_do(
    stack: Stack, dynamodb_calls: list[tuple[str, str]], function: str, api: type[ApiClient], body: Any
) -> None:
    api(stack.workspaces[0]).post(body, key=f"least-{function}")  # type: ignore[call-arg]

    table = stack.resources.tables["DeliveryLogTable"]
    made = {f"dynamodb:{operation}" for operation, name in dynamodb_calls if name == table}
    allowed = actions_on(function, "DeliveryLogTable")
    assert made, "the API wrote no request manifest"
    assert made <= allowed
    # Nothing more: no SAM write/CRUD template, no delete of what the sender recorded; only the automation's cancel
    # reads its index and marks the notifications it cancelled (C1, C4).
    cancels = {"dynamodb:Query", "dynamodb:UpdateItem"} if function == "AutomationApiFunction" else set()
    assert allowed <= {"dynamodb:PutItem", "dynamodb:BatchWriteItem"} | cancels


def test_R8_the_sender_may_write_the_delivery_log_only_as_it_does(
    stack: Stack, dynamodb_calls: list[tuple[str, str]], sender: SenderDriver
) -> None:
    """Its claim's put and its outcome's put (issue 25), later claims' and releases' updates, the read of what holds
    a claim: all allowed, nothing more."""
    EventApiClient(stack.workspaces[0]).post(welcome(), key="least-sender")
    dynamodb_calls.clear()
    sender.drain()

    table = stack.resources.tables["DeliveryLogTable"]
    made = {f"dynamodb:{operation}" for operation, name in dynamodb_calls if name == table}
    allowed = actions_on("SenderFunction", "DeliveryLogTable")
    assert "dynamodb:PutItem" in made
    assert made <= allowed <= {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}


@pytest.mark.parametrize("function", API_FUNCTIONS)
def test_api_functions_cannot_read_provider_secrets(function: str) -> None:
    text = str(RESOURCES[function]["Properties"].get("Policies", []))
    assert "ssm" not in text.lower() and "secretsmanager" not in text.lower()


def test_only_the_sender_reads_provider_secrets_under_its_stack_path() -> None:
    [secrets] = [s for s in statements("SenderFunction") if s["Action"] == "ssm:GetParameter"]
    path = {"Fn::Sub": "/${AWS::StackName}/providers"}
    assert secrets["Resource"]["Fn::Sub"].endswith(":parameter/${AWS::StackName}/providers/*")
    assert RESOURCES["SenderFunction"]["Properties"]["Environment"]["Variables"]["PROVIDER_SECRETS_PATH"] == path


def test_sender_sends_email_only_from_the_configured_identity() -> None:
    [ses] = [s for s in statements("SenderFunction") if s["Action"] == "ses:SendEmail"]
    assert ses["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "SenderEmail"}}}


@pytest.mark.parametrize(
    ("function", "api", "body", "refused"),
    [
        ("EventApiFunction", EventApiClient, {**welcome(), "to": {"email": "refused@example.com"}}, "refused@"),
        (
            "BulkApiFunction",
            BulkApiClient,
            {"event": "Welcome_Email", "batch": [welcome(), welcome("refused@example.com")]},
            "refused@",
        ),
        ("AutomationApiFunction", AutomationApiClient, {"email": "refused@example.com", "name": "A"}, "refused@"),
    ],
)
def test_R8_marking_notifications_not_queued_needs_no_more_than_the_api_functions_may(
    stack: Stack, dynamodb_calls: list[tuple[str, str]], function: str, api: type[ApiClient], body: Any, refused: str
) -> None:
    with queue_refuses(refused):
        api(stack.workspaces[0]).post(body, key=f"refused-{function}")  # type: ignore[call-arg]

    table = stack.resources.tables["DeliveryLogTable"]
    made = [f"dynamodb:{operation}" for operation, name in dynamodb_calls if name == table]
    # A keyed request names the refused notifications in the manifest its completion writes (one Put).
    assert made, "the refused notifications were not recorded"
    assert set(made) <= actions_on(function, "DeliveryLogTable")


# Profiles (docs/contract.md section 6) -------------------------------------------------------------------------


ProfilesCall = Callable[..., int]


@pytest.fixture
def profiles_function(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> ProfilesCall:
    """`call(method, route, body=None, query=None)`: one request to the Profiles function, its status code."""
    from local.container import import_function
    from local.template import function_environment
    from notify.settings import get_settings

    for name, value in function_environment("ProfilesApiFunction", stack.resources).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    module = import_function("profiles_api")
    demo = stack.workspaces[0]

    def call(method: str, route: str, body: Any = None, query: dict[str, str] | None = None) -> int:
        path = f"/v1/{demo.workspace}/{route}"
        event = {
            "version": "2.0",
            "rawPath": path,
            "headers": {"authorization": f"Bearer {demo.api_key}", "content-type": "application/json"},
            "requestContext": {"http": {"method": method, "path": path}, "stage": "$default"},
            "queryStringParameters": query,
            "body": json.dumps(body) if body is not None else None,
            "isBase64Encoded": False,
        }
        return int(module.lambda_handler(event, FakeLambdaContext())["statusCode"])

    return call


def test_the_profiles_function_may_call_on_its_table_exactly_what_its_routes_do(
    stack: Stack, dynamodb_calls: list[tuple[str, str]], profiles_function: ProfilesCall
) -> None:
    from notify.dal.profiles import create_profile
    from notify.models.profiles import Profile

    demo = stack.workspaces[0]
    call = profiles_function

    dynamodb_calls.clear()
    assert call("POST", "live/profiles", {"distinct_id": "u1", "channel": {"email": "a@example.com"}}) == 201
    assert call("GET", "live/profiles/u1") == 200
    assert call("PUT", "live/profiles/u1", {"name": "x"}) == 200
    assert call("PATCH", "live/profiles/u1/channel", {"channel": {"push": [{"token": "t"}]}}) == 200
    assert call("POST", "live/profiles/u1/channel/delete", {"push": ["t"]}) == 200
    assert call("PUT", "live/profiles/u1", {"distinct_id": "u2"}) == 200
    create_profile(demo.workspace, Profile(distinct_id="u3", created_at="x", updated_at="x", version="live"))
    assert call("PATCH", "live/profiles/u2/merge/u3") == 200
    assert call("POST", "live/profiles/delete", {"distinct_id": ["u3"]}) == 200

    table = stack.resources.tables["ProfilesTable"]
    made = {f"dynamodb:{operation}" for operation, name in dynamodb_calls if name == table}
    assert made == actions_on("ProfilesApiFunction", "ProfilesTable")
    # The function reads API keys and nothing else of the product's tables.
    assert {name for _, name in dynamodb_calls} <= {table, stack.resources.tables["ApiKeysTable"]}


@pytest.mark.parametrize(
    ("function", "api", "body"),
    [
        ("EventApiFunction", EventApiClient, {"event": "Welcome_Email", "distinct_id": "u1", "data": {"name": "R"}}),
        (
            "BulkApiFunction",
            BulkApiClient,
            {
                "event": "Welcome_Email",
                "batch": [{"distinct_id": "u1", "data": {"name": "R"}}, {"distinct_id": "u2", "data": {"name": "R"}}],
            },
        ),
    ],
)
def test_sending_by_distinct_id_only_reads_profiles(
    stack: Stack, dynamodb_calls: list[tuple[str, str]], function: str, api: type[ApiClient], body: Any
) -> None:
    from notify.dal.profiles import create_profile
    from notify.models.profiles import Profile, ProfileChannels

    for distinct_id in ("u1", "u2"):
        profile = Profile(
            distinct_id=distinct_id,
            channel=ProfileChannels(email=f"{distinct_id}@example.com"),
            created_at="x",
            updated_at="x",
            version="live",
        )
        create_profile(stack.workspaces[0].workspace, profile)
    dynamodb_calls.clear()
    assert api(stack.workspaces[0]).post(body, key=f"profile-{function}").status == 202  # type: ignore[call-arg]

    table = stack.resources.tables["ProfilesTable"]
    made = {f"dynamodb:{operation}" for operation, name in dynamodb_calls if name == table}
    assert made and made <= actions_on(function, "ProfilesTable")
    for sending in ("EventApiFunction", "BulkApiFunction", "AutomationApiFunction"):
        assert actions_on(sending, "ProfilesTable") == {"dynamodb:GetItem", "dynamodb:BatchGetItem"}


# Issue 18: the idempotency and API-key tables, narrowed to what each function calls -------------------------------


def idempotency_statement(function: str, sid: str | None = None) -> dict[str, Any]:
    """The statement on the idempotency table (`sid` names one where a function has several)."""
    [statement] = [
        s
        for s in statements(function)
        if s.get("Resource") == {"Fn::GetAtt": ["IdempotencyTable", "Arn"]} and (sid is None or s.get("Sid") == sid)
    ]
    return statement


@pytest.mark.parametrize(
    ("function", "api", "body", "prefix"),
    [
        ("EventApiFunction", EventApiClient, welcome(), "event"),
        ("BulkApiFunction", BulkApiClient, {"event": "Welcome_Email", "batch": [welcome()]}, "bulk"),
        (
            "AutomationApiFunction",
            AutomationApiClient,
            {"email": "a@example.com", "name": "A", "order": {}},
            "automation",
        ),
    ],
)
def test_api_functions_may_touch_only_their_own_idempotency_records_with_the_calls_they_make(
    stack: Stack, dynamodb_calls: list[tuple[str, str]], function: str, api: type[ApiClient], body: Any, prefix: str
) -> None:
    client_api = api(stack.workspaces[0])  # type: ignore[call-arg]
    client_api.post(body, key=f"narrow-{function}")
    client_api.post(body, key=f"narrow-{function}")  # a replay
    client_api.post({"event": "Nope", "to": {"email": "a@example.com"}}, key=f"refused-{function}")  # a release

    table = stack.resources.tables["IdempotencyTable"]
    made = {f"dynamodb:{operation}" for operation, name in dynamodb_calls if name == table}
    statement = idempotency_statement(function)
    assert made <= set(statement["Action"])
    assert set(statement["Action"]) <= {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchGetItem",
    }
    # Never a Scan or BatchWrite, and never the sender's guards (`send#...`) or another API's records; the
    # automation function's cancel has its own scope (C3).
    prefixes = [f"{prefix}#*", "cancel#*"] if prefix == "automation" else [f"{prefix}#*"]
    assert statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": prefixes}}
    assert "template:DynamoDBCrudPolicy" not in actions_on(function, "IdempotencyTable")


def test_the_sender_may_only_read_the_guards_an_earlier_sender_kept() -> None:
    """The msg_id guard is the delivery-log item now: on the idempotency table the sender reads the guards an
    earlier version kept (`send#...`, honoured until they expire) and writes nothing."""
    statement = idempotency_statement("SenderFunction")
    assert statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["send#*"]}}
    assert statement["Action"] == "dynamodb:GetItem"


@pytest.mark.parametrize("function", API_FUNCTIONS)
def test_api_functions_read_one_api_key_hash_at_a_time_never_list_them(function: str) -> None:
    assert actions_on(function, "ApiKeysTable") == {"dynamodb:GetItem"}


def test_every_queue_sets_the_message_size_the_size_budget_assumes() -> None:
    from local.template import resources_of_type
    from notify.models.limits import SQS_MAX_MESSAGE_BYTES

    queues = resources_of_type("AWS::SQS::Queue", load_template())
    assert queues
    for queue in queues.values():
        assert queue["Properties"]["MaximumMessageSize"] == SQS_MAX_MESSAGE_BYTES


def test_the_suppression_routes_may_call_on_their_table_exactly_what_they_do(
    stack: Stack, dynamodb_calls: list[tuple[str, str]], profiles_function: ProfilesCall
) -> None:
    dynamodb_calls.clear()
    call = profiles_function
    assert call("POST", "suppressions", {"destination": "a@example.com", "channel": "email"}) == 200
    assert call("GET", "suppressions") == 200
    assert call("DELETE", "suppressions", query={"destination": "a@example.com"}) == 200

    table = stack.resources.tables["SuppressionsTable"]
    made = {f"dynamodb:{operation}" for operation, name in dynamodb_calls if name == table}
    assert made == actions_on("ProfilesApiFunction", "SuppressionsTable")


@pytest.mark.parametrize("function", ["EventApiFunction", "BulkApiFunction", "AutomationApiFunction", "SenderFunction"])
def test_senders_and_the_post_apis_only_read_suppressions_in_batches(function: str) -> None:
    """The door and the sender read the list (one BatchGetItem for every destination); only the list's routes
    change it."""
    assert actions_on(function, "SuppressionsTable") == {"dynamodb:BatchGetItem"}


# Issue 23: the idempotency key lookup reads, never writes ------------------------------------------------------------


def test_K1_the_lookup_may_only_read_the_apis_records_with_the_calls_it_makes(
    stack: Stack, dynamodb_calls: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from notify.settings import get_settings
    from tests.support.clients import StatusApiClient

    EventApiClient(stack.workspaces[0]).post(welcome(), key="least-lookup")
    for name, value in function_environment("StatusApiFunction", stack.resources).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    dynamodb_calls.clear()
    status = StatusApiClient(stack.workspaces[0])
    for api in ("event", "bulk", "automation", "cancel"):
        status.lookup(api, "least-lookup")

    table = stack.resources.tables["IdempotencyTable"]
    made = {f"dynamodb:{operation}" for operation, name in dynamodb_calls if name == table}
    statement = idempotency_statement("StatusApiFunction")
    assert made == {"dynamodb:GetItem"}
    assert set(statement["Action"]) == {"dynamodb:GetItem", "dynamodb:BatchGetItem"}
    prefixes = ["event#*", "bulk#*", "automation#*", "cancel#*"]
    assert statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": prefixes}}


def test_C4_the_cancel_writes_no_idempotency_record_and_calls_only_what_it_may(
    stack: Stack, dynamodb_calls: list[tuple[str, str]]
) -> None:
    trigger = AutomationApiClient(stack.workspaces[0])
    trigger.post(
        {"email": "a@example.com", "name": "A", "phone": "+14155550100", "order": {}},
        key="least-cancel-run",
        headers={"Cancellation-Key": "least"},
    )
    cancel = AutomationApiClient(stack.workspaces[0])
    cancel.route = "automation/onboarding/cancel"
    dynamodb_calls.clear()
    assert len(cancel.post({"cancellation_key": "least"}, key="least-cancel").json()["cancelled"]) == 3

    # The sender's guard is the delivery item the cancel updates: no right on anyone's `send#...` record.
    statement = idempotency_statement("AutomationApiFunction")
    assert "send#*" not in statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
    assert not [s for s in statements("AutomationApiFunction") if s.get("Sid") == "CancelSendGuards"]
    for table in ("IdempotencyTable", "DeliveryLogTable"):
        made = {f"dynamodb:{operation}" for operation, name in dynamodb_calls if name == stack.resources.tables[table]}
        assert made and made <= actions_on("AutomationApiFunction", table)
