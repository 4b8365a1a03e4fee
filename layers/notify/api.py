"""HTTP plumbing shared by every API function: the resolver, the auth middleware, error mapping.

Cold start: this module and the functions' `app.py` import only the resolver, Logger and Metrics. What a
request needs beyond them (pydantic and the models, Powertools' idempotency, the product's logic) is
imported by the first request that needs it, so a container pays it once, at its first request, and
never for a route it does not serve (SnapStart preloads it before the snapshot: notify/snapstart.py).
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from notify import snapstart
from notify.deadline import RESERVE_FRACTION, time_budget
from notify.environment import require_environment
from notify.errors import (
    MethodNotAllowed,
    NotifyError,
    PayloadTooLarge,
    RequestValidationError,
    RouteNotFound,
    ServiceUnavailable,
)
from notify.logic.responses import JSON, StoredResponse, error_body
from notify.observability import count, logger, metrics, tracer
from notify.routes import ROUTES, allowed_methods, trailing_slash_twin

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
    from pydantic import BaseModel

    from notify.logic.idempotency import ApiName, RequestScope

VERSIONS = ("live", "test")
_WORKSPACE_ROUTE = re.compile(r"/v1/(?P<workspace>[^/]+)/(?P<version>[^/]+)(?:/|$)")
# Routes of a whole workspace, without a version (Fyno's suppression list).
_WORKSPACE_WIDE_ROUTE = re.compile(r"^/v1/(?P<workspace>[^/]+)/suppressions/?$")

ModelT = TypeVar("ModelT", bound="BaseModel")
Route = TypeVar("Route", bound=Callable[..., Response])


def error_response(error: NotifyError) -> Response:
    headers: dict[str, str] = {}
    if isinstance(error, ServiceUnavailable):
        count("ServiceUnavailable")
    if error.retry_after_seconds is not None:
        headers["Retry-After"] = str(error.retry_after_seconds)
    if isinstance(error, MethodNotAllowed):
        headers["Allow"] = ", ".join(error.allowed)
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


def serve(
    app: APIGatewayHttpResolver,
    api: ApiName,
    workspace: str,
    version: str,
    execute: Callable[[RequestScope], StoredResponse],
) -> Response:
    """One POST API call: the key's stored answer, or `execute` (which parses the body) run once (R1-R9)."""
    from notify.logic.idempotency import serve_request

    event = app.current_event
    try:
        body: str | bytes | None = event.decoded_body
    except (ValueError, UnicodeDecodeError):
        body = event.body  # not UTF-8 once decoded: its encoded form still names it (M2)
    return to_response(serve_request(api, workspace, version, event.headers, execute, app.lambda_context, body))


# Kept back from the invocation's remaining time: botocore may sleep up to 2 s (its standard backoff before
# a third attempt) before it finds the budget spent, and the answer must still leave before the timeout.
ANSWER_RESERVE_SECONDS = 2.5


def within_invocation_time(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
    """First middleware: every AWS call of the request ends before the function's timeout (R9)."""
    remaining = getattr(app.lambda_context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return next_middleware(app)
    left = remaining() / 1000
    with time_budget(left - min(ANSWER_RESERVE_SECONDS, left * RESERVE_FRACTION)):
        return next_middleware(app)


def authenticate_workspace(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
    """Middleware on every /v1/{workspace}/{version}/... and /v1/{workspace}/suppressions route: unknown version
    -> 404, bad key -> 401."""
    match = _WORKSPACE_ROUTE.search(app.current_event.path)
    # An unmatched route is answered 404 or 405 before any key is looked at, as a gateway routes before it
    # authorizes (notify.routes).
    if match is None or app.current_event.http_method not in allowed_methods(app.current_event.path):
        return next_middleware(app)
    from notify.logic.auth import authenticate

    wide = _WORKSPACE_WIDE_ROUTE.match(app.current_event.path)
    try:
        if wide is not None:
            match = wide
        elif match["version"] not in VERSIONS:
            raise RouteNotFound()
        # A malformed workspace id matches no key, so it is a 401 like any other workspace mismatch.
        authenticate(app.current_event.headers.get("authorization"), match["workspace"])
    except NotifyError as error:
        return error_response(error)
    return next_middleware(app)


# Far deeper than any template data; shallow enough that the body still serialises into a queue message
# (pydantic stops at 255 levels, and json.loads itself at about 1000).
MAX_BODY_DEPTH = 64


def _nesting_depth(value: Any) -> int:
    """How many arrays and objects deep `value` goes; iterative, so any depth is measured safely."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def parse_json(app: APIGatewayHttpResolver, *, empty: Any = None) -> Any:
    """The body as JSON (any value); `empty` stands for a missing body."""
    try:
        # API Gateway base64-encodes a body that is not UTF-8; decoding it is part of parsing.
        raw = app.current_event.decoded_body
        if not raw:
            return empty
        _check_body_size(raw)
        payload = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestValidationError("Malformed JSON in request body") from exc
    except RecursionError as exc:
        raise _too_deep() from exc
    if _nesting_depth(payload) > MAX_BODY_DEPTH:
        raise _too_deep()
    return payload


def _check_body_size(raw: str | bytes) -> None:
    """A body past MAX_BODY_BYTES is a 413, before it is parsed (notify.models.limits)."""
    from notify.models.limits import MAX_BODY_BYTES

    # A character takes at least one byte: only a body near the limit is encoded to be measured.
    if isinstance(raw, bytes) or len(raw) > MAX_BODY_BYTES or len(raw) * 4 <= MAX_BODY_BYTES:
        size = len(raw)
    else:
        size = len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"The request body is {size} bytes; it must be at most {MAX_BODY_BYTES} bytes",
            field="body",
            limit=MAX_BODY_BYTES,
        )


def _too_deep() -> RequestValidationError:
    return RequestValidationError(f"The request body nests arrays and objects more than {MAX_BODY_DEPTH} levels deep")


def _field_error(loc: tuple[int | str, ...], message: str) -> dict[str, Any]:
    """One validation error; a bulk item's error names the item by its `seq` (1-based, batch order)."""
    if len(loc) >= 2 and loc[0] == "batch" and isinstance(loc[1], int):
        return {"seq": loc[1] + 1, "field": ".".join(str(part) for part in loc[2:]) or "item", "message": message}
    return {"field": ".".join(str(part) for part in loc) or "body", "message": message}


def parse_body(app: APIGatewayHttpResolver, model: type[ModelT]) -> ModelT:
    """The JSON object body validated against `model`, or RequestValidationError naming each bad field."""
    from pydantic import ValidationError

    payload = parse_json(app)
    if not isinstance(payload, dict):
        raise RequestValidationError("The request body must be a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        errors = [_field_error(tuple(err["loc"]), err["msg"]) for err in exc.errors(include_url=False)]
        first = errors[0]
        where = f"batch item seq {first['seq']}: {first['field']}" if "seq" in first else first["field"]
        raise RequestValidationError(f"Invalid request body: {where}: {first['message']}", errors=errors) from exc


def unmatched_route(method: str, path: str) -> NotifyError:
    """What a request no route of the function serves is answered: 405 on a known path, else 404 (notify.routes)."""
    allowed = allowed_methods(path)
    return MethodNotAllowed(method, allowed) if allowed and method not in allowed else RouteNotFound()


def build_resolver() -> APIGatewayHttpResolver:
    """The API Gateway HTTP API resolver every function uses: a time budget, auth, errors as the contract says."""
    app = APIGatewayHttpResolver()
    app.use(middlewares=[within_invocation_time, authenticate_workspace])

    @app.exception_handler(NotifyError)
    def _answer_domain_error(error: NotifyError) -> Response:
        return error_response(error)

    @app.not_found
    def _answer_unmatched(_: Exception) -> Response:
        return error_response(unmatched_route(app.current_event.http_method, app.current_event.path))

    @app.exception_handler(Exception)
    def _answer_unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(NotifyError())

    return app


class _LazyModule:
    """A module imported when one of its attributes is first read (the functions' first request, not their cold
    start); typed as the module itself under TYPE_CHECKING where it is used."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)


def lazy_module(name: str) -> Any:
    return _LazyModule(name)


# A keyed POST route of a function: its path as the resolver matches it, and the key scope it serves (R2).
KeyedRoute = tuple[re.Pattern[str], "ApiName"]


def replay_without_resolver(keyed: Sequence[KeyedRoute], event: dict[str, Any]) -> dict[str, Any] | None:
    """A replay the container can answer from its cache (R4), answered as the resolver would answer it, without it:
    the same route match, the same authentication (a key this container looked up within the cache's time), the
    same stored answer and hook (notify.logic.idempotency.replay_from_container), the same response dict. A replay
    costs about a third of the full path's time (docs/bench.md). None for anything else, or in any doubt (a key
    not in the cache, another body, a malformed event): the resolver then serves it, middlewares and all."""
    if not keyed:
        return None
    proxy = APIGatewayProxyEventV2(event)
    try:
        if proxy.http_method.upper() != "POST":
            return None
        path = proxy.path
        headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    except (KeyError, TypeError, AttributeError):
        return None
    found = next(((match, api) for rule, api in keyed if (match := rule.match(path)) is not None), None)
    if found is None:
        return None
    match, api = found
    workspace, version = match["workspace"], match["version"]
    from notify.logic.auth import authenticated_from_cache

    if version != "live" or not authenticated_from_cache(headers.get("authorization"), workspace):
        return None
    try:
        body: str | bytes | None = proxy.decoded_body
    except (ValueError, UnicodeDecodeError):
        body = proxy.body  # as `serve` reads it
    from notify.logic.idempotency import replay_from_container

    stored = replay_from_container(api, workspace, version, headers, body)
    if stored is None:
        return None
    return ResponseBuilder[APIGatewayProxyEventV2](to_response(stored)).build(proxy)


@dataclass(frozen=True)
class HttpFunction:
    """One HTTP API function: its resolver and its Lambda handler. `functions/<name>/app.py` adds its routes with
    `get`, `post`, `put`, `patch` and `delete` (traced), and exports `lambda_handler`. A POST served by `serve`
    names its key scope (`post(path, idempotent="event")`), so a replay the container holds is answered before the
    resolver (replay_without_resolver)."""

    app: APIGatewayHttpResolver
    lambda_handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    keyed: list[KeyedRoute] = field(default_factory=list)

    def route(self, method: str, path: str, *, idempotent: ApiName | None = None) -> Callable[[Route], Route]:
        # The authentication middleware lets a request the route table does not know through to its 404 or 405
        # (notify.routes): a route served but missing from the table would be served unauthenticated. Refused here,
        # at cold start, where every test of the function sees it.
        if (method, path.replace("<", "{").replace(">", "}")) not in ROUTES:
            raise RuntimeError(f"{method} {path} is not in notify.routes.ROUTES: add it there first")

        def register(handler: Route) -> Route:
            traced = tracer.capture_method(handler)
            # The template routes the trailing-slash twin here too (notify.routes): the resolver serves both.
            for served in (path, trailing_slash_twin(path)):
                self.app.route(served, method)(traced)
                if idempotent is not None:
                    # The resolver's own pattern for the path, so both match exactly the same requests.
                    self.keyed.append((self.app._compile_regex(served), idempotent))
            return handler

        return register

    def get(self, path: str) -> Callable[[Route], Route]:
        return self.route("GET", path)

    def post(self, path: str, *, idempotent: ApiName | None = None) -> Callable[[Route], Route]:
        return self.route("POST", path, idempotent=idempotent)

    def put(self, path: str) -> Callable[[Route], Route]:
        return self.route("PUT", path)

    def patch(self, path: str) -> Callable[[Route], Route]:
        return self.route("PATCH", path)

    def delete(self, path: str) -> Callable[[Route], Route]:
        return self.route("DELETE", path)

    def serve(
        self, api: ApiName, workspace: str, version: str, execute: Callable[[RequestScope], StoredResponse]
    ) -> Response:
        """One POST API call, idempotent by its key (notify.logic.idempotency)."""
        return serve(self.app, api, workspace, version, execute)

    def body(self, model: type[ModelT]) -> ModelT:
        """The request's JSON body validated against `model` (400 naming each bad field)."""
        return parse_body(self.app, model)

    def json(self, *, empty: Any = None) -> Any:
        """The request's body as any JSON value; `empty` stands for a missing body."""
        return parse_json(self.app, empty=empty)


def http_function(name: str, preload: Sequence[str] = ()) -> HttpFunction:
    """The bootstrap every HTTP API function shares, run at cold start: the environment check (stop here, naming
    the variable, when the template did not give one `name` needs), the resolver with its middlewares, SnapStart's
    hooks (with SnapStart on, the snapshot holds `preload`: what the first request would import) and the handler's
    Logger, Tracer and Metrics decorators."""
    require_environment(name)
    app = build_resolver()
    snapstart.register(preload=preload)

    keyed: list[KeyedRoute] = []

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def resolve(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return app.resolve(event, context)

    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        # A replay the container holds is answered before the decorators: it logs nothing for the Logger's context
        # to mark, writes its one count itself, and is done in a third of the time (docs/bench.md).
        try:
            replayed = replay_without_resolver(keyed, event)
        except Exception:
            logger.exception("replay from the container's cache failed; the resolver answers")
            replayed = None
        return replayed if replayed is not None else resolve(event, context)

    return HttpFunction(app, lambda_handler, keyed)
