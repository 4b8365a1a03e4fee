"""Names that become parts of DynamoDB keys, bounded in UTF-8 bytes as DynamoDB bounds keys.

A sort key holds at most 1024 bytes and a partition key 2048, whatever the characters: 256 characters
of a 4-byte script are already 1024 bytes. Past a key limit DynamoDB answers ValidationException,
which would be a 503 (retry forever) instead of the client mistake it is (a 400).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

MAX_KEY_NAME_CHARACTERS = 256
# Room for the prefixes the tables put before a name ("automation#", workspace and version).
MAX_KEY_NAME_BYTES = 512
MAX_DISTINCT_ID_CHARACTERS = 512


def key_name_problem(value: str, max_characters: int = MAX_KEY_NAME_CHARACTERS) -> str | None:
    """Why `value` cannot name an event, automation or profile; None when it can."""
    if not value:
        return "must not be empty"
    if len(value) > max_characters:
        return f"must be at most {max_characters} characters"
    if len(value.encode("utf-8", "surrogatepass")) > MAX_KEY_NAME_BYTES:
        return f"must be at most {MAX_KEY_NAME_BYTES} bytes in UTF-8"
    return None


def _fits_a_key(value: str) -> str:
    problem = key_name_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _fits_a_distinct_id(value: str) -> str:
    problem = key_name_problem(value, MAX_DISTINCT_ID_CHARACTERS)
    if problem is not None:
        raise ValueError(problem)
    return value


# An event name or automation id: 1-256 characters, at most 512 bytes in UTF-8.
KeyName = Annotated[
    str,
    Field(min_length=1, max_length=MAX_KEY_NAME_CHARACTERS, description=f"at most {MAX_KEY_NAME_BYTES} bytes in UTF-8"),
    AfterValidator(_fits_a_key),
]
# A recipient's distinct id: up to 512 characters, as before, and at most 512 bytes in UTF-8.
DistinctId = Annotated[
    str,
    Field(
        min_length=1, max_length=MAX_DISTINCT_ID_CHARACTERS, description=f"at most {MAX_KEY_NAME_BYTES} bytes in UTF-8"
    ),
    AfterValidator(_fits_a_distinct_id),
]
