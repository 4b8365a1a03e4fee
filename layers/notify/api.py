"""HTTP plumbing shared by every API function: the resolver, the auth middleware, error mapping."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from pydantic import BaseModel, ValidationError

from notify.errors import (
    IdempotencyKeyInUse,
    NotifyError,
    RequestValidationError,
    RouteNotFound,
    ServiceUnavailable,
)
from notify.logic.auth import authenticate
from notify.logic.responses import JSON, StoredResponse, error_body
from notify.observability import logger

VERSIONS = ("live", "test")
_WORKSPACE_ROUTE = re.compile(r"/v1/(?P<workspace>[^/]+)/(?P<version>[^/]+)(?:/|$)")

ModelT = TypeVar("ModelT", bound=BaseModel)


def error_response(error: NotifyError) -> Response:
    headers: dict[str, str] = {}
    if isinstance(error, IdempotencyKeyInUse | ServiceUnavailable):
        headers["Retry-After"] = str(error.retry_after_seconds)
    return Response(
        status_code=error.status_code,
        content_type=JSON,
        body=json.dumps(error_body(error), separators=(",", ":")),
        headers=headers,
    )


def to_response(stored: StoredResponse) -> Response:
    """A stored (or freshly executed) response as the resolver's Response, headers included."""
    headers = dict(stored.get("headers", {}))
    content_type = headers.pop("Content-Type", JSON)
    return Response(status_code=stored["statusCode"], content_type=content_type, body=stored["body"], headers=headers)


def authenticate_workspace(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
    """Middleware on every /v1/{workspace}/{version}/... route: unknown version -> 404, bad key -> 401."""
    match = _WORKSPACE_ROUTE.search(app.current_event.path)
    if match is None:
        return next_middleware(app)
    try:
        if match["version"] not in VERSIONS:
            raise RouteNotFound()
        # A malformed workspace id matches no key, so it is a 401 like any other workspace mismatch.
        authenticate(app.current_event.headers.get("authorization"), match["workspace"])
    except NotifyError as error:
        return error_response(error)
    return next_middleware(app)


def parse_body(app: APIGatewayHttpResolver, model: type[ModelT]) -> ModelT:
    """The JSON body validated against `model`, or RequestValidationError naming each bad field."""
    raw = app.current_event.decoded_body
    try:
        payload: Any = json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestValidationError("Malformed JSON in request body") from exc
    if not isinstance(payload, dict):
        raise RequestValidationError("The request body must be a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(part) for part in err["loc"]) or "body", "message": err["msg"]}
            for err in exc.errors(include_url=False)
        ]
        first = errors[0]
        raise RequestValidationError(
            f"Invalid request body: {first['field']}: {first['message']}", errors=errors
        ) from exc


def build_resolver() -> APIGatewayHttpResolver:
    """The API Gateway HTTP API resolver every function uses: auth first, every error in SPEC's shape."""
    app = APIGatewayHttpResolver()
    app.use(middlewares=[authenticate_workspace])

    @app.exception_handler(NotifyError)
    def _answer_domain_error(error: NotifyError) -> Response:
        return error_response(error)

    @app.not_found
    def _answer_not_found(_: Exception) -> Response:
        return error_response(RouteNotFound())

    @app.exception_handler(Exception)
    def _answer_unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(NotifyError())

    return app
