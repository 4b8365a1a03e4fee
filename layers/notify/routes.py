"""Every route of the API, and what an unmatched request is answered (docs/contract.md section 2).

The template routes each (method, path) to its function, plus its trailing-slash twin (Fyno's Node SDK creates
profiles at `.../profiles/`), and sends every other request to its `$default` route: the OpenAPI function, whose
resolver answers it from this table: a known path with another method is a `405` with `Allow`, anything else a
`404`, both in the error shape. tests/infrastructure/test_template.py checks this table is the template's routes.
Imports nothing beyond the standard library: it runs at cold start of every HTTP function.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

# (method, path) in API Gateway's notation: {name} is one path segment.
ROUTES: tuple[tuple[str, str], ...] = (
    ("POST", "/v1/{workspace}/{version}/event"),
    ("POST", "/v1/{workspace}/{version}/event/bulk"),
    ("POST", "/v1/{workspace}/{version}/automation/{automation_id}/trigger"),
    ("POST", "/v1/{workspace}/{version}/automation/{automation_id}/cancel"),
    ("GET", "/v1/{workspace}/{version}/request/{request_id}"),
    ("GET", "/v1/{workspace}/{version}/idempotency/{api}/{key}"),
    ("POST", "/v1/{workspace}/{version}/profiles"),
    ("GET", "/v1/{workspace}/{version}/profiles/{distinct_id}"),
    ("PUT", "/v1/{workspace}/{version}/profiles/{distinct_id}"),
    ("PATCH", "/v1/{workspace}/{version}/profiles/{distinct_id}/channel"),
    ("POST", "/v1/{workspace}/{version}/profiles/{distinct_id}/channel/delete"),
    ("PATCH", "/v1/{workspace}/{version}/profiles/{source}/merge/{target}"),
    ("POST", "/v1/{workspace}/{version}/profiles/delete"),
    ("GET", "/v1/{workspace}/suppressions"),
    ("POST", "/v1/{workspace}/suppressions"),
    ("DELETE", "/v1/{workspace}/suppressions"),
    ("GET", "/v1/openapi.json"),
)


def trailing_slash_twin(path: str) -> str:
    """The same route with a trailing slash, as the template declares it beside the route itself."""
    return path.rstrip("/") + "/"


@cache
def _patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    compiled = []
    for method, path in ROUTES:
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
        compiled.append((method, re.compile(f"^{regex}/?$")))
    return tuple(compiled)


def allowed_methods(path: str) -> list[str]:
    """The methods some route serves at `path` (trailing slash or not); empty when no route has this path."""
    # Every authenticated request asks this of its path: remembered per container for paths of a sane length (any
    # path a client sends can come here, and the cache holds at most 1024 of them, of at most 256 characters each).
    return list(_allowed_methods(path) if len(path) <= MAX_REMEMBERED_PATH else _match(path))


MAX_REMEMBERED_PATH = 256


@lru_cache(maxsize=1024)
def _allowed_methods(path: str) -> tuple[str, ...]:
    return _match(path)


def _match(path: str) -> tuple[str, ...]:
    return tuple(sorted({method for method, pattern in _patterns() if pattern.match(path)}))
