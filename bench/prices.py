"""List prices the cost per million is computed with: us-east-1, on-demand, no free tier, first pricing tier.

The one place to update them. PRICES_AS_OF is the date they are assumed current: the figures are AWS's
published us-east-1 list prices as of that date (DynamoDB on-demand after its November 2024 reduction).
"""

from __future__ import annotations

PRICES_AS_OF = "2025-06-01"
REGION = "us-east-1"

PRICES_USD = {
    # DynamoDB on-demand, Standard table class: a write request unit writes 1 KB (transactional: 2 units a
    # KB), a read request unit reads 4 KB strongly consistent (eventually consistent: half a unit,
    # transactional: 2 units).
    "dynamodb_write_request_unit": 0.625 / 1e6,
    "dynamodb_read_request_unit": 0.125 / 1e6,
    # SQS standard queue: each 64 KB chunk of a request's payload is one request.
    "sqs_request": 0.40 / 1e6,
    # Lambda: a request, and a GB-second on arm64 (the template's Architecture default), first tier; duration
    # is billed in 1 ms increments.
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    # API Gateway HTTP API, first 300 million a month: a request is metered in 512 KB increments.
    "http_api_request": 1.00 / 1e6,
    # CloudWatch Logs, standard class ingestion (the functions' JSON logs and EMF metrics), per GB.
    "cloudwatch_logs_ingested_gb": 0.50,
    # Not in the total: the provider's own price (issue 25 counts "before the provider's own price").
    "ses_email": 0.10 / 1e3,
}

# The sizes the units are metered in.
DYNAMODB_WRITE_UNIT_BYTES = 1024
DYNAMODB_READ_UNIT_BYTES = 4096
SQS_CHUNK_BYTES = 64 * 1024
HTTP_API_CHUNK_BYTES = 512 * 1024
