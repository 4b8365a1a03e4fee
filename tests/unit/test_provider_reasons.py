"""A provider's refusal is recorded with every address in it masked (D3), in time linear in its length (issue 18).

The address pattern was tried at every position of a long word, rescanning it each time: 30,000 characters took
1.6 s, 300,000 would take minutes. Each word is now scanned once.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from notify.logic.providers import PermanentDeliveryError
from notify.logic.providers.aws import aws_failure


def refusal(message: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "MessageRejected", "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}},
        "SendEmail",
    )


def test_addresses_in_a_refusal_are_masked() -> None:
    failure = aws_failure(refusal("Email address is not verified: rahul@example.com, +14155550123"), "ses")

    assert isinstance(failure, PermanentDeliveryError)
    assert failure.reason.startswith(
        "ses rejected the message: MessageRejected: Email address is not verified: r***@example.com, +1***23 ("
    )


@pytest.mark.parametrize(
    "message",
    [
        "a" * 300_000,  # one word, no @: every start used to rescan to its end
        "a" * 300_000 + "@",
        ":".join(["x" * 999] * 300),
    ],
    ids=["word", "word-then-at", "long-words"],
)
def test_a_long_refusal_is_masked_in_one_pass(message: str) -> None:
    """Finishes in milliseconds (before: minutes, quadratic); nothing in it is an address, so nothing changes."""
    failure = aws_failure(refusal(message), "sns")  # SES would add a hint after it

    assert isinstance(failure, PermanentDeliveryError)
    assert failure.reason.endswith(message)


def test_an_address_at_the_end_of_a_long_refusal_is_still_masked() -> None:
    message = "x " * 150_000 + "rahul@example.com"

    failure = aws_failure(refusal(message), "sns")

    assert isinstance(failure, PermanentDeliveryError)
    assert failure.reason.endswith("x r***@example.com") and "rahul" not in failure.reason
