"""The AWS calls a piece of code makes, as the product's own cached clients make them (notify.dal.clients)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from notify.dal.clients import client


@contextmanager
def aws_calls(*services: str, table: str | None = None) -> Iterator[list[str]]:
    """The operation names made through `services` (DynamoDB by default) while inside, in order; with `table`,
    only the DynamoDB calls that name that table."""

    made: list[str] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if table is None or params.get("TableName") == table or table in params.get("RequestItems", {}):
            made.append(model.name)

    hooked = [
        (client(service).meta.events, f"before-parameter-build.{service}") for service in services or ("dynamodb",)
    ]
    for events, name in hooked:
        events.register(name, record, unique_id="tests.support.calls")
    try:
        yield made
    finally:
        for events, name in hooked:
            events.unregister(name, unique_id="tests.support.calls")
