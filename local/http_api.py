"""API Gateway HTTP API, emulated: the template's HttpApi routes, payload format 2.0, on a threaded server.

What it answers on its own is what HTTP API answers: 404 `{"message":"Not Found"}` for a request no
route takes (the product's template has a `$default` route, whose function answers in the product's error
shape), 500 `{"message":"Internal Server Error"}` when the function fails (an unhandled exception,
a timeout, a malformed response), and 503 `{"message":"Service Unavailable"}` when the integration
takes longer than HTTP API's 30 s limit.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote

from local.faults import ArmedFaultList, Fault, InvalidFault
from local.functions import FunctionPool, Invocation
from local.loopback import LoopbackServer
from local.outbox.observed import ReplayCounter
from local.template import HttpRoute

# HTTP API's maximum (and default) integration timeout.
INTEGRATION_TIMEOUT_SECONDS = 30
FAULTS_PATH = "/_local/faults"
ACCOUNT_ID = "123456789012"
API_ID = "local"

# Content types passed to the function as text; any other body is base64 encoded, as HTTP API does.
_TEXT_TYPES = re.compile(r"^(text/.*|application/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded))$")


@dataclass
class HttpAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def gateway_answer(status: int, message: str) -> HttpAnswer:
    """An answer API Gateway itself gives, in its own shape."""
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return HttpAnswer(status, [("Content-Type", "application/json")], body)


class _CompiledRoute:
    def __init__(self, route: HttpRoute) -> None:
        self.route = route
        self.parameter_names: list[str] = []
        if route.path == "$default":
            self.pattern = re.compile(r"^/.*$")
            self.specificity: tuple[int, ...] = ()
            return
        parts, specificity = [], []
        for segment in route.path.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("+}"):
                parts.append(f"(?P<p{len(self.parameter_names)}>.+)")
                self.parameter_names.append(segment[1:-2])
                specificity.append(0)
            elif segment.startswith("{") and segment.endswith("}"):
                parts.append(f"(?P<p{len(self.parameter_names)}>[^/]+)")
                self.parameter_names.append(segment[1:-1])
                specificity.append(1)
            else:
                parts.append(re.escape(segment))
                specificity.append(2)
        # A route declared with a trailing slash is another route, as on HTTP API (the template declares both).
        trailing = "/" if route.path.endswith("/") and route.path != "/" else ""
        self.pattern = re.compile("^/" + "/".join(parts) + trailing + "$")
        self.specificity = tuple(specificity)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.route.method not in ("ANY", method):
            return None
        found = self.pattern.match(path)
        if found is None:
            return None
        return {name: unquote(found[f"p{i}"]) for i, name in enumerate(self.parameter_names)}

    def priority(self) -> tuple[bool, tuple[int, ...], bool]:
        """HTTP API picks the most specific route: literal over {param} over {proxy+}, then a method over ANY."""
        return (self.route.path != "$default", self.specificity, self.route.method != "ANY")


class LocalHttpApi:
    """Serves every HttpApi route of the template on 127.0.0.1:`port`; binds at construction."""

    def __init__(self, port: int, faults: ArmedFaultList, replays: ReplayCounter | None = None) -> None:
        self.faults = faults
        # The outbox counts replayed answers per request (local/outbox): only this emulator sees them all.
        self.replays = replays
        self.routes: list[_CompiledRoute] = []
        self.pools: dict[str, FunctionPool] = {}
        self.server = LoopbackServer(port, _RequestHandler, self, "http-api")

    def start(self, routes: list[HttpRoute], pools: dict[str, FunctionPool]) -> None:
        self.routes = sorted((_CompiledRoute(route) for route in routes), key=_CompiledRoute.priority, reverse=True)
        self.pools = pools
        self.server.serve_in_thread()

    def close(self) -> None:
        self.server.close()

    def answer(self, request: _RequestHandler, body: bytes) -> HttpAnswer:
        raw_path, _, raw_query = request.path.partition("?")
        if raw_path == FAULTS_PATH:
            return self._manage_faults(request.command, body)
        for compiled in self.routes:
            parameters = compiled.match(request.command, raw_path)
            if parameters is not None:
                event = payload_v2_event(request, compiled.route, parameters, raw_path, raw_query, body)
                pool = self.pools[compiled.route.function]
                answer = self._integrate(pool, event)
                if self.replays is not None:
                    self.replays.observe(parameters.get("workspace"), answer.headers, answer.body)
                return answer
        return gateway_answer(404, "Not Found")

    def _integrate(self, pool: FunctionPool, event: dict[str, Any]) -> HttpAnswer:
        """Invoke the function, giving up after the integration timeout as API Gateway does."""
        future: Future[Invocation] = Future()
        faults = self.faults.snapshot()
        threading.Thread(target=lambda: future.set_result(pool.invoke(event, faults)), daemon=True).start()
        try:
            invocation = future.result(timeout=INTEGRATION_TIMEOUT_SECONDS)
        except FutureTimeout:
            return gateway_answer(503, "Service Unavailable")
        if invocation.outcome != "ok":
            print(
                "function failed:",
                invocation.outcome,
                invocation.error.get("errorType", ""),
                invocation.error.get("errorMessage", ""),
                file=sys.stderr,
            )
            return gateway_answer(500, "Internal Server Error")
        return http_answer_from_result(invocation.result)

    def _manage_faults(self, method: str, body: bytes) -> HttpAnswer:
        if method == "POST":
            try:
                self.faults.arm(Fault.from_request(json.loads(body or b"null")))
            except (InvalidFault, ValueError) as exc:
                return gateway_answer(400, str(exc))
        elif method == "DELETE":
            self.faults.disarm_all()
        elif method != "GET":
            return gateway_answer(405, "Method Not Allowed")
        answer = json.dumps({"faults": self.faults.snapshot()}).encode()
        return HttpAnswer(200, [("Content-Type", "application/json")], answer)


def payload_v2_event(
    request: _RequestHandler,
    route: HttpRoute,
    parameters: dict[str, str],
    raw_path: str,
    raw_query: str,
    body: bytes,
) -> dict[str, Any]:
    """The event HTTP API sends a Lambda integration with payload format version 2.0."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        name = name.lower()
        # Repeated headers arrive comma-joined in format 2.0.
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = datetime.now(UTC)
    domain = headers.get("host", "127.0.0.1").split(":")[0]
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": request.command,
                "path": raw_path,
                "protocol": request.request_version,
                "sourceIp": request.client_address[0],
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request.request_id,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if parameters:
        event["pathParameters"] = parameters
    if body:
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if not _TEXT_TYPES.match(content_type):
                raise UnicodeDecodeError("", b"", 0, 1, "binary content type")
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


def http_answer_from_result(result: Any) -> HttpAnswer:
    """Map a payload 2.0 response back to HTTP; without statusCode, the whole result is a 200 JSON body."""
    if not (isinstance(result, dict) and "statusCode" in result):
        text = result if isinstance(result, str) else json.dumps(result)
        return HttpAnswer(200, [("Content-Type", "application/json")], text.encode())
    status = result["statusCode"]
    response_headers = result.get("headers") or {}
    if not isinstance(status, int) or not 100 <= status <= 599 or not isinstance(response_headers, dict):
        return gateway_answer(500, "Internal Server Error")
    headers = [(str(name), str(value)) for name, value in response_headers.items()]
    headers += [("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or []]
    raw_body = result.get("body") or ""
    if not isinstance(raw_body, str):
        raw_body = json.dumps(raw_body)
    try:
        body = base64.b64decode(raw_body) if result.get("isBase64Encoded") else raw_body.encode()
    except ValueError:
        return gateway_answer(500, "Internal Server Error")
    return HttpAnswer(status, headers, body)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LoopbackServer

    def _handle(self) -> None:
        self.request_id = base64.b64encode(os.urandom(10)).decode()
        answer = self.server.owner.answer(self, self._read_body())
        self.send_response(answer.status)
        for name, value in answer.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.send_header("apigw-requestid", self.request_id)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    def version_string(self) -> str:
        return "local-http-api"

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers, up to the blank line
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write("api: %s %s\n" % (self.address_string(), format % args))  # noqa: UP031

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle
