"""The synchronous client: one method per route, every call through `_Transport.send`, which owns the retry loop."""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Union
from urllib.parse import quote

import httpx

from notify_client._errors import ApiError, Result, TransportError
from notify_client._retry import RetryPolicy, retry_after_seconds, should_retry_error, should_retry_status

__version__ = "0.1.0"

logger = logging.getLogger("notify_client")

VERSIONS = ("live", "test")
IDEMPOTENT_APIS = ("event", "bulk", "automation")
Expiration = Union[int, str, datetime]


@dataclass(frozen=True)
class _Call:
    """One API call as the wire sees it, built once so that every retry sends the very same bytes and key."""

    method: str
    path: str
    body: bytes | None = None
    idempotency_key: str | None = None
    extra_headers: Mapping[str, str] | None = None
    # Whether repeating it after an ambiguous failure cannot act twice: a keyed POST, a read, a PUT.
    replay_safe: bool = True


def _json(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _segment(value: str) -> str:
    """One path segment, percent-encoded (a `/` in a distinct_id or key stays inside its segment)."""
    if not isinstance(value, str) or not value:
        raise ValueError("a path parameter must be a non-empty string")
    return quote(value, safe="")


def _expiration_header(value: Expiration) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("idempotency_expiration must be timezone-aware")
        return str(int(value.timestamp() * 1000))
    return str(value)


def _parse_body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


class _Transport:
    """Sends a `_Call` until it has a final answer or the deadline runs out. Never logs the API key."""

    def __init__(
        self,
        http: httpx.Client,
        retry: RetryPolicy,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        rng: random.Random,
    ) -> None:
        self.http = http
        self.retry = retry
        self.sleep = sleep
        self.clock = clock
        self.rng = rng

    def send(self, call: _Call) -> Result:
        headers = dict(call.extra_headers or {})
        if call.body is not None:
            headers["Content-Type"] = "application/json"
        if call.idempotency_key is not None:
            headers["Idempotency-Key"] = call.idempotency_key
        deadline = self.clock() + self.retry.deadline
        attempt = 0
        while True:
            attempt += 1
            timeout = max(0.001, min(self.retry.attempt_timeout, deadline - self.clock()))
            try:
                response = self.http.request(
                    call.method, call.path, content=call.body, headers=headers, timeout=timeout
                )
            except httpx.HTTPError as error:
                if not should_retry_error(error, call.replay_safe):
                    raise TransportError(
                        f"{call.method} {call.path} failed: {type(error).__name__}: {error}",
                        idempotency_key=call.idempotency_key,
                        attempts=attempt,
                    ) from error
                wait = self.retry.backoff(attempt, self.rng)
                if self.clock() + wait >= deadline:
                    raise TransportError(
                        f"{call.method} {call.path}: no answer within the {self.retry.deadline}s deadline "
                        f"after {attempt} attempt(s): {type(error).__name__}: {error}",
                        idempotency_key=call.idempotency_key,
                        attempts=attempt,
                    ) from error
                self._log_retry(call, attempt, wait, reason=type(error).__name__)
                self.sleep(wait)
                continue

            body = _parse_body(response)
            replayed = response.headers.get("idempotency-replayed", "").lower() == "true"
            if response.is_success:
                return Result(response.status_code, body, replayed, call.idempotency_key, response.headers, attempt)
            if should_retry_status(response.status_code, call.replay_safe):
                told = retry_after_seconds(response.headers.get("retry-after"))
                wait = told if told is not None else self.retry.backoff(attempt, self.rng)
                if self.clock() + wait < deadline:
                    self._log_retry(call, attempt, wait, reason=str(response.status_code))
                    self.sleep(wait)
                    continue
            raise ApiError(
                response.status_code,
                body,
                idempotency_key=call.idempotency_key,
                replayed=replayed,
                headers=response.headers,
                attempts=attempt,
            )

    @staticmethod
    def _log_retry(call: _Call, attempt: int, wait: float, reason: str) -> None:
        logger.info(
            "notify_client retrying %s %s after %s (attempt %d, waiting %.2fs, Idempotency-Key %s)",
            call.method,
            call.path,
            reason,
            attempt,
            wait,
            call.idempotency_key,
            extra={"attempt": attempt, "wait_seconds": wait, "reason": reason, "idempotency_key": call.idempotency_key},
        )


class Profiles:
    """Fyno's Profiles API (`client.profiles`). No route takes an Idempotency-Key on this server: reads, PUT and
    PATCH channel are retried like any call; create, delete, merge and channel delete only when they surely did
    nothing (connection refused, 429, 503), since a repeat of one that did would answer a misleading 400."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, distinct_id: str, /, **fields: Any) -> Result:
        """`POST /profiles` with `name`, `status`, `timezone`, `channel` as keyword arguments."""
        body = {"distinct_id": distinct_id, **fields}
        return self._client._post("profiles", body, None, replay_safe=False)

    def get(self, distinct_id: str) -> Result:
        return self._client._get(f"profiles/{_segment(distinct_id)}")

    def update(self, distinct_id: str, /, **fields: Any) -> Result:
        """`PUT /profiles/{distinct_id}`: the keys given replace theirs (`distinct_id=` renames)."""
        renames = fields.get("distinct_id", distinct_id) != distinct_id
        call = _Call("PUT", f"profiles/{_segment(distinct_id)}", _json(fields))
        return self._client._send(call if not renames else dataclasses.replace(call, replay_safe=False))

    def add_channels(self, distinct_id: str, channel: Mapping[str, Any]) -> Result:
        """`PATCH /profiles/{distinct_id}/channel`: replaces single destinations, adds push/inapp tokens."""
        path = f"profiles/{_segment(distinct_id)}/channel"
        return self._client._send(_Call("PATCH", path, _json({"channel": dict(channel)})))

    def delete_channels(
        self,
        distinct_id: str,
        channels: Sequence[str] | None = None,
        *,
        tokens: Mapping[str, Sequence[str]] | None = None,
    ) -> Result:
        """Every destination of `channels`, or the given push/inapp `tokens` (`{"push": [token]}`), not both."""
        if (channels is None) == (tokens is None):
            raise ValueError("give either channels or tokens")
        body = {"channel": list(channels)} if channels is not None else {k: list(v) for k, v in (tokens or {}).items()}
        return self._client._post(f"profiles/{_segment(distinct_id)}/channel/delete", body, None, replay_safe=False)

    def merge(self, source: str, target: str) -> Result:
        path = f"profiles/{_segment(source)}/merge/{_segment(target)}"
        return self._client._send(_Call("PATCH", path, replay_safe=False))

    def delete(self, distinct_ids: Sequence[str]) -> Result:
        if isinstance(distinct_ids, str):
            raise TypeError("distinct_ids is a list of ids")
        return self._client._post("profiles/delete", {"distinct_id": list(distinct_ids)}, None, replay_safe=False)


class Client:
    """The notification API (or Fyno's) for one workspace and version.

    `base_url` is the API's root (`http://127.0.0.1:3000`) or Fyno's endpoint with its `/v1`
    (`https://api.fyno.io/v1`). `sleep`, `clock` and `rng` exist for tests.
    """

    def __init__(
        self,
        workspace: str,
        api_key: str,
        base_url: str,
        version: str = "live",
        *,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if not workspace or "/" in workspace:
            raise ValueError("workspace must be a workspace id")
        if not api_key:
            raise ValueError("api_key is required")
        if version not in VERSIONS:
            raise ValueError(f"version must be one of {VERSIONS}, not {version!r}")
        root = base_url.rstrip("/")
        if not root.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        self.workspace = workspace
        self.version = version
        self.base_url = root if root.endswith("/v1") else f"{root}/v1"
        self._http = httpx.Client(
            base_url=f"{self.base_url}/{_segment(workspace)}/{version}/",
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": f"notify-client-python/{__version__}",
            },
            transport=transport,
        )
        policy = retry or RetryPolicy()
        self._transport = _Transport(self._http, policy, sleep, clock, rng or random.Random())  # noqa: S311  # nosec B311  # jitter, not a secret
        self.profiles = Profiles(self)

    def __repr__(self) -> str:
        return f"Client(workspace={self.workspace!r}, base_url={self.base_url!r}, version={self.version!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # The APIs ------------------------------------------------------------------------------------------------

    def event(
        self,
        body: Mapping[str, Any],
        idempotency_key: str | None = None,
        *,
        idempotency_expiration: Expiration | None = None,
    ) -> Result:
        """`POST /event`: `{"event", "to", "distinct_id"?, "data"?, "callback"?}`."""
        return self._post("event", body, idempotency_key, expiration=idempotency_expiration)

    def bulk(
        self,
        body: Mapping[str, Any],
        idempotency_key: str | None = None,
        *,
        idempotency_expiration: Expiration | None = None,
    ) -> Result:
        """`POST /event/bulk`: `{"event", "batch": [{"to", "data"?, "distinct_id"?, "callback"?}, ...]}`."""
        return self._post("event/bulk", body, idempotency_key, expiration=idempotency_expiration)

    def trigger(
        self,
        automation_id: str,
        payload: Any,
        idempotency_key: str | None = None,
        *,
        cancellation_key: str | None = None,
        idempotency_expiration: Expiration | None = None,
    ) -> Result:
        """`POST /automation/{id}/trigger` with any JSON payload; `cancellation_key` names the run for `cancel`."""
        headers = {"Cancellation-Key": cancellation_key} if cancellation_key is not None else None
        return self._post(
            f"automation/{_segment(automation_id)}/trigger",
            payload,
            idempotency_key,
            expiration=idempotency_expiration,
            headers=headers,
        )

    def cancel(
        self,
        automation_id: str,
        cancellation_key: str,
        recipients: Sequence[str] | None = None,
        idempotency_key: str | None = None,
    ) -> Result:
        """`POST /automation/{id}/cancel`: every step not yet sent of the runs triggered with `cancellation_key`."""
        body: dict[str, Any] = {"cancellation_key": cancellation_key}
        if recipients is not None:
            body["recipients"] = list(recipients)
        return self._post(f"automation/{_segment(automation_id)}/cancel", body, idempotency_key)

    def status(self, request_id: str) -> Result:
        """`GET /request/{request_id}`: each notification of a request and its delivery state."""
        return self._get(f"request/{_segment(request_id)}")

    def idempotency_lookup(self, api: str, idempotency_key: str) -> Result | None:
        """What a key holds now on `api` (`event`, `bulk`, `automation`), or None when it holds nothing (404)."""
        if api not in IDEMPOTENT_APIS:
            raise ValueError(f"api must be one of {IDEMPOTENT_APIS}, not {api!r}")
        try:
            return self._get(f"idempotency/{api}/{_segment(idempotency_key)}")
        except ApiError as error:
            if error.status_code == 404:
                return None
            raise

    # The plumbing --------------------------------------------------------------------------------------------

    def _get(self, relative: str) -> Result:
        return self._send(_Call("GET", relative))

    def _post(
        self,
        relative: str,
        body: Any,
        idempotency_key: str | None,
        *,
        expiration: Expiration | None = None,
        headers: Mapping[str, str] | None = None,
        replay_safe: bool = True,
    ) -> Result:
        if idempotency_key is None:
            idempotency_key = str(uuid.uuid4())
        elif not isinstance(idempotency_key, str) or not idempotency_key.strip():
            raise ValueError("idempotency_key must be a non-empty string")
        extra = dict(headers or {})
        if expiration is not None:
            extra["x-idempotency-expiration"] = _expiration_header(expiration)
        call = _Call("POST", relative, _json(body), idempotency_key, extra, replay_safe)
        return self._send(call)

    def _send(self, call: _Call) -> Result:
        return self._transport.send(call)
