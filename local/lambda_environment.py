"""The environment of a Lambda function as the runtime sets it, for functions run by the local stack."""

from __future__ import annotations

import os

from local.moto_backend import FAKE_CREDENTIALS
from local.settings import LocalSettings
from local.template import FunctionSpec


def lambda_environment(
    spec: FunctionSpec, variables: dict[str, str], settings: LocalSettings, runtime: str
) -> dict[str, str]:
    """Exactly what a Lambda environment holds: the template's variables plus the runtime's reserved ones."""
    return {
        **variables,
        "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.logical_id}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "$LATEST",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "LAMBDA_TASK_ROOT": str(spec.code_uri),
        "_HANDLER": spec.handler,
        "AWS_REGION": settings.region,
        "AWS_DEFAULT_REGION": settings.region,
        "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
        "AWS_SESSION_TOKEN": FAKE_CREDENTIALS["aws_session_token"],
        "AWS_ENDPOINT_URL": settings.moto_url,
        # botocore prefers a service's own endpoint variable over AWS_ENDPOINT_URL.
        **({"AWS_ENDPOINT_URL_DYNAMODB": settings.dynamodb_url} if settings.dynamodb_url else {}),
        # No developer profile or config may leak into a function.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        # As under `sam local`: Powertools then skips X-Ray, which has no daemon here.
        "AWS_SAM_LOCAL": "true",
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": "UTC",
        "PYTHONUNBUFFERED": "1",
        # The local stack alone lets delivery reports go to http://127.0.0.1 (notify.logic.reports), so the
        # feature can be tried on one machine; the template never sets it.
        "LOCAL_LOOPBACK_CALLBACKS": "true",
    }
