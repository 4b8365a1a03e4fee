"""The size budget: every limit the API checks at the door, next to the downstream limit it protects.

A request the API answers 202 to must fit everything it turns into: a queue message per notification (SQS),
the records written about it (DynamoDB items and the completion's transaction), and the answer itself (Lambda's
response payload). Each number below is published in docs/contract.md ("Limits"), checked before anything is
stored, and tested at the limit and one past it: a body past MAX_BODY_BYTES is a 413, a field past its own
limit a 400 naming the field and the limit.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, Field

# --- What the downstream services allow (fixed by AWS) ------------------------------------------------------
# DynamoDB: 400 KB an item (names and values), 4 MB and 100 items a TransactWriteItems.
DYNAMODB_ITEM_BYTES = 400 * 1024
DYNAMODB_TRANSACTION_BYTES = 4 * 1024 * 1024
DYNAMODB_TRANSACTION_ITEMS = 100
# Lambda: 6 MB a synchronous request and response payload (the API's event and its answer).
LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
# API Gateway (HTTP API): 10 MB a request body; Lambda's 6 MB binds first.
API_GATEWAY_BODY_BYTES = 10 * 1024 * 1024
# SQS: the template sets MaximumMessageSize to this on every queue, so no account default can be smaller.
SQS_MAX_MESSAGE_BYTES = 256 * 1024

# --- What the API accepts ----------------------------------------------------------------------------------
# A whole request body. API Gateway puts the body into the Lambda event as a JSON string, where each `"` and
# `\` doubles: 3,000,000 bytes stay under Lambda's 6 MB event even then, with room for the headers.
MAX_BODY_BYTES = 3_000_000
# One recipient's `data` (compact JSON, UTF-8). Each notification's queue message carries it whole with its
# destination, ids and callback: 128 KiB leaves half of the 256 KiB message for the rest, and the attempt
# record that keeps the message for a redrive stays far below DynamoDB's 400 KB item.
MAX_DATA_BYTES = 128 * 1024
# A `callback` object (compact JSON): the largest its fields' limits below allow (docs/contract.md section 8).
MAX_CALLBACK_BYTES = 2 * 1024
# Its fields, as Fyno bounds them: a custom_id string or an integer of at most 20 digits (a 64-bit id fits),
# custom1/custom2, and the allowlisted endpoint names a report goes to.
MAX_CALLBACK_CUSTOM_ID_CHARACTERS = 200
MAX_CALLBACK_CUSTOM_ID_DIGITS = 20
MAX_CALLBACK_CUSTOM_CHARACTERS = 50
MAX_CALLBACK_ENDPOINTS = 3
# An endpoint's name (the admin command's --name): a DefinitionsTable sort key "callback#<name>", and a segment
# of its secret's SSM parameter name (letters, digits, `.`, `-`, `_`).
MAX_CALLBACK_ENDPOINT_NAME_CHARACTERS = 64
# An answer (the 202 body: Event, Bulk or Automations). It echoes every destination, including those a
# profile gave, so its size is known only once profiles are read: a request whose answer would pass this is
# refused with 413 before anything is queued. Each `"` of it doubles in Lambda's response, as for the body.
MAX_ANSWER_BYTES = 3_000_000

# Destinations, per channel (RFC 5321 for email; E.164 is at most 15 digits after the `+`).
MAX_EMAIL_CHARACTERS = 254
MAX_EMAIL_LOCAL_PART_CHARACTERS = 64
MAX_PHONE_CHARACTERS = 16
MAX_URL_CHARACTERS = 2048
# A push or inapp token, a Slack user id, user email or channel, a Discord or Teams id.
MAX_TOKEN_CHARACTERS = 1024
# A webhook URL's host, after IDNA: labels of 1-63 letters, digits and hyphens, 253 characters in all.
MAX_HOST_CHARACTERS = 253
MAX_LABEL_CHARACTERS = 63


def json_bytes(value: Any) -> int:
    """How many bytes `value` takes as compact JSON in UTF-8, as the queue message and the records carry it."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))


def bounded_json(limit: int) -> Any:
    """An AfterValidator refusing a value whose compact JSON passes `limit` bytes, naming the limit."""

    def check(value: Any) -> Any:
        size = json_bytes(value)
        if size > limit:
            raise ValueError(f"must be at most {limit} bytes as JSON (UTF-8); this is {size}")
        return value

    return AfterValidator(check)


# A suppression's `description` (Fyno's free text; a bounce's or complaint's reason fits in it), and how far
# ahead its `expiry_ts` may be: ten years, past which "until further notice" means no expiry at all.
MAX_SUPPRESSION_DESCRIPTION_CHARACTERS = 500
MAX_SUPPRESSION_SECONDS = 10 * 366 * 24 * 60 * 60

# --- Names that become parts of DynamoDB keys ---------------------------------------------------------------
# A sort key holds at most 1024 bytes and a partition key 2048, whatever the characters: 256 characters of a
# 4-byte script are already 1024 bytes. Past a key limit DynamoDB answers ValidationException, which would be a
# 503 (retry forever) instead of the client mistake it is (a 400).
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


# A `Cancellation-Key` (C2): it names the runs to cancel in a DynamoDB sort of key (hashed there), and is sent back
# by clients in a cancel body; Knock's `cancellation_key` is of the same order.
MAX_CANCELLATION_KEY_CHARACTERS = 256
# Recipients named in one cancel: as many as one Bulk request has.
MAX_CANCEL_RECIPIENTS = 1000
