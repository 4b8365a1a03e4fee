"""The local stack's moto: a cancelled TransactWriteItems leaves every item it named as it was (moto's own
table backups are replaced by backups of those items, local/moto_backend.py)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.stack import REGION, Stack


@pytest.fixture
def table(stack: Stack) -> tuple[Any, str]:
    """The idempotency table (key `id`), holding one item, `kept`."""
    ddb = stack.session.client("dynamodb", region_name=REGION)
    name = stack.resources.tables["IdempotencyTable"]
    ddb.put_item(TableName=name, Item={"id": {"S": "kept"}, "status": {"S": "INPROGRESS"}, "n": {"N": "1"}})
    return ddb, name


def items(ddb: Any, name: str) -> dict[str, dict[str, Any]]:
    return {item["id"]["S"]: item for item in ddb.scan(TableName=name, ConsistentRead=True)["Items"]}


def update_kept(name: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": name,
            "Key": {"id": {"S": "kept"}},
            "UpdateExpression": "SET #s = :done, n = n + :one",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":done": {"S": "COMPLETED"}, ":one": {"N": "1"}},
        }
    }


def test_a_cancelled_transaction_leaves_updated_and_new_items_as_they_were(table: tuple[Any, str]) -> None:
    ddb, name = table
    before = items(ddb, name)
    failing_check = {
        "Put": {
            "TableName": name,
            "Item": {"id": {"S": "kept"}},
            "ConditionExpression": "attribute_not_exists(id)",
        }
    }
    new_item = {"Put": {"TableName": name, "Item": {"id": {"S": "new"}}}}
    other = {"Put": {"TableName": name, "Item": {"id": {"S": "other"}}, "ConditionExpression": "attribute_exists(id)"}}

    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(TransactItems=[update_kept(name), new_item, other])

    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert items(ddb, name) == before  # `kept` not updated, `new` not created
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[new_item, failing_check])
    assert items(ddb, name) == before


def test_a_transaction_naming_one_item_twice_changes_nothing(table: tuple[Any, str]) -> None:
    ddb, name = table
    before = items(ddb, name)
    with pytest.raises(ClientError) as refused:
        ddb.transact_write_items(
            TransactItems=[update_kept(name), {"Delete": {"TableName": name, "Key": {"id": {"S": "kept"}}}}]
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert items(ddb, name) == before


def test_a_transaction_that_succeeds_writes_every_item(table: tuple[Any, str]) -> None:
    ddb, name = table
    ddb.transact_write_items(
        TransactItems=[update_kept(name), {"Put": {"TableName": name, "Item": {"id": {"S": "new"}}}}]
    )
    after = items(ddb, name)
    assert after["kept"]["status"] == {"S": "COMPLETED"} and after["kept"]["n"] == {"N": "2"}
    assert after["new"] == {"id": {"S": "new"}}
