"""The idempotency contract (docs/contract.md section 3, R1-R7 and R9), in one place.

Order of every POST request, the same for the three APIs (`serve_request`):
authenticate -> read the key -> claim it (or replay what it stored) -> validate body, headers,
definitions -> execute -> store the response, with the request's status record in the same transaction
(the manifests its Claim keeps back): claim, enqueue, complete are its three AWS calls.

Only authentication and reading the key come before the replay (R4): a stored answer replays
whatever the body, the headers or the definitions say now. Validation runs inside the claimed
section; a refusal there (any NotifyError: 400, or 503 when a store is unreachable) makes Powertools
delete the claim, so nothing is stored and the key can be retried (R5, R9). Once execution starts its
response is stored whatever it is (R3): execution returns 5xx responses instead of raising.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast
from urllib.parse import unquote

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord
from botocore.exceptions import BotoCoreError, ClientError

from notify.caches import per_container, per_container_bounded
from notify.dal.delivery_log import KeptManifests
from notify.dal.idempotency_store import Claim, idempotency_store
from notify.deadline import time_budget_leaving
from notify.errors import (
    ExecutionFailed,
    IdempotencyKeyInUse,
    IdempotencyKeyNotFound,
    IdempotencyKeyReused,
    NotifyError,
    RequestValidationError,
    RouteNotFound,
    ServiceUnavailable,
)
from notify.logic.responses import StoredResponse, stored_error, stored_response
from notify.observability import count, logger
from notify.settings import get_settings

# The POST APIs a key is scoped to (R2); the `api` of a RequestScope. "cancel" is the automation cancel's (C3).
ApiName = Literal["event", "bulk", "automation", "cancel"]
# The APIs whose keys the lookup route reads (K1): any other name in its path is a 404.
LOOKUP_APIS: tuple[ApiName, ...] = ("event", "bulk", "automation", "cancel")

IDEMPOTENCY_KEY_HEADER = "idempotency-key"
EXPIRATION_HEADER = "x-idempotency-expiration"
REPLAYED_HEADER = "Idempotency-Replayed"
MIN_EXPIRY_SECONDS = 24 * 60 * 60
MAX_EXPIRY_SECONDS = 366 * 24 * 60 * 60
# A client that computes "now + 24 h" loses a little to the network and to clock skew.
EXPIRY_GRACE_SECONDS = 5 * 60

# Execution leaves this much of the invocation's time for the completion write (R3): one attempt, after
# up to 2 s of botocore backoff past the execution's budget.
COMPLETION_RESERVE_SECONDS = 3.0

# Namespace of request ids derived from scoped keys; fixed forever, since ids must stay stable (R8).
_REQUEST_ID_NAMESPACE = uuid.UUID("6f1f5d0e-8b8a-4c53-9d2e-3f0f7f1c2a41")


@dataclass(frozen=True)
class IdempotencyOptions:
    """What the client asked for: its key (R1) and, optionally, when the record expires (R6)."""

    key: str
    expires_at: int | None = None  # epoch seconds


@dataclass(frozen=True)
class RequestScope:
    """Where a request's key lives (R2), whether it is honoured at all (R7), and its claim on the key."""

    workspace: str
    api: ApiName
    version: str
    options: IdempotencyOptions | None
    # Filled when the key is claimed (notify.dal.idempotency_store); used only when `is_idempotent`.
    claim: Claim = field(default_factory=Claim)

    @property
    def is_idempotent(self) -> bool:
        return self.version == "live" and self.options is not None

    def claim_data(self) -> dict[str, Any]:
        """What Powertools is given: the data it hashes (workspace, API and key), the requested expiry, and the
        Claim its persistence layer fills."""
        assert self.options is not None
        self.claim.requested_expiry = self.options.expires_at
        return {
            "workspace": self.workspace,
            "api": self.api,
            "key": self.options.key,
            "expires_at": self.options.expires_at,
            "claim": self.claim,
        }

    def kept_manifests(self) -> KeptManifests | None:
        """Where a keyed request keeps its manifests back for the completion's transaction; None: write them now."""
        return self.claim.manifests if self.is_idempotent else None

    def received(self) -> datetime:
        """When the request was received. For a keyed request, when its key's lifetime was first claimed: a
        re-execution (after a crash or a failed completion) answers the first execution's received_time, so a
        client that got the first answer gets the same bytes again (R4)."""
        claimed = self.claim.received_ms if self.is_idempotent else None
        return datetime.fromtimestamp(claimed / 1000, UTC) if claimed is not None else datetime.now(UTC)

    def dedupe_until(self) -> int:
        """Epoch seconds until which senders refuse a repeated msg_id: as long as the key lives (R6, R8)."""
        lifetime = self.claim.expiry if self.is_idempotent else None
        if lifetime is not None:
            return lifetime
        if self.options is not None and self.options.expires_at is not None:
            return self.options.expires_at
        return int(time.time()) + get_settings().idempotency_expiry_seconds

    def request_id(self) -> str:
        """Deterministic for a keyed live request within one lifetime of its key, so a re-execution reuses every
        id (R8) while a key reused after it expired gets new ones (and is sent again); random otherwise."""
        if not self.is_idempotent:
            return str(uuid.uuid4())
        return self.request_id_in_lifetime(self.claim.expiry)

    def request_id_in_lifetime(self, lifetime: int | None) -> str:
        """The keyed request's id in the key lifetime that expires at `lifetime` (epoch seconds)."""
        assert self.options is not None
        scoped_key = json.dumps([self.workspace, self.api, self.options.key])
        name = hashlib.sha256(scoped_key.encode()).hexdigest()
        if lifetime is not None:
            name = f"{name}:{lifetime}"
        return str(uuid.uuid5(_REQUEST_ID_NAMESPACE, name))


def derive_msg_id(request_id: str, recipient_index: int, channel: str) -> str:
    """Notification id of one (request, recipient, channel): the same on every execution of a request (R8)."""
    return str(uuid.uuid5(uuid.UUID(request_id), f"{recipient_index}:{channel}"))


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def read_idempotency_key(headers: Mapping[str, str]) -> str | None:
    """The `Idempotency-Key` (R1), matched case-insensitively; None without one, 400 when blank."""
    raw_key = _lowered(headers).get(IDEMPOTENCY_KEY_HEADER)
    if raw_key is None:
        return None
    key = raw_key.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1].strip()  # the IETF draft's quoted form names the same key
    if not key:
        raise RequestValidationError(
            "The Idempotency-Key header must not be empty",
            errors=[{"field": "Idempotency-Key", "message": "must be a non-empty string"}],
        )
    return key


def read_expiration(headers: Mapping[str, str], now: datetime | None = None) -> int | None:
    """`x-idempotency-expiration` (R6) in epoch seconds, None when absent; 400 when out of bounds."""
    raw_expiry = _lowered(headers).get(EXPIRATION_HEADER)
    if raw_expiry is None:
        return None
    return _parse_expiration(raw_expiry, now or datetime.now(UTC))


def read_idempotency_options(headers: Mapping[str, str], now: datetime | None = None) -> IdempotencyOptions | None:
    """Parse `Idempotency-Key` (R1) and `x-idempotency-expiration` (R6) strictly; None without a key."""
    key = read_idempotency_key(headers)
    expires_at = read_expiration(headers, now)
    return IdempotencyOptions(key=key, expires_at=expires_at) if key is not None else None


def _expiry_to_claim_with(headers: Mapping[str, str]) -> int | None:
    """The requested expiry if it is valid now, else the default. A retry that resends the first request's
    header minutes later must reach its replay (R4); a first request with a bad header is refused inside
    the claim, which is then released (R5)."""
    try:
        return read_expiration(headers)
    except RequestValidationError:
        return None


def _parse_expiration(raw: str, now: datetime) -> int:
    """Epoch milliseconds or ISO-8601, between 24 hours and one year ahead; epoch seconds out."""
    value = raw.strip()
    when: datetime | None = None
    if value.isascii() and value.isdigit():
        try:
            when = datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            # Past the last year a datetime holds: far more than a year ahead, and no reason for a 500.
            raise _expiration_error("must be at most one year in the future") from None
    else:
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            when = None
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    if when is None:
        raise _expiration_error("must be epoch milliseconds or an ISO-8601 timestamp")
    ahead = (when - now).total_seconds()
    if ahead < MIN_EXPIRY_SECONDS - EXPIRY_GRACE_SECONDS:
        raise _expiration_error("must be at least 24 hours in the future")
    if ahead > MAX_EXPIRY_SECONDS:
        raise _expiration_error("must be at most one year in the future")
    return int(when.timestamp())


def _expiration_error(reason: str) -> RequestValidationError:
    return RequestValidationError(
        f"The x-idempotency-expiration header {reason}",
        errors=[{"field": "x-idempotency-expiration", "message": reason}],
    )


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    """Powertools response hook: a stored response goes back with `Idempotency-Replayed: true` (R4)."""
    count("IdempotencyReplayed", api=idempotent_data.idempotency_key.partition("#")[0])  # "<api>#<hash>"
    return {**response, "headers": {**response.get("headers", {}), REPLAYED_HEADER: "true"}}


@per_container
def _config(api: ApiName) -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="[workspace, api, key]",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=get_settings().idempotency_expiry_seconds,
        hash_function="sha256",
        use_local_cache=True,
        response_hook=_mark_replayed,
    )


def run_idempotently(
    scope: RequestScope,
    execute: Callable[[], StoredResponse],
    lambda_context: Any = None,
) -> StoredResponse:
    """Execute once per scoped key and replay the stored response afterwards (R3, R4, R5, R9).

    `execute` refuses a request by raising a NotifyError before it sends anything (validation, unknown
    definitions, a store it cannot reach); any other failure is answered, and stored, as a 500.
    """
    if not scope.is_idempotent:
        return execute()

    outcome: dict[str, StoredResponse] = {}

    def execute_and_remember(claim: dict[str, Any]) -> StoredResponse:
        try:
            with time_budget_leaving(COMPLETION_RESERVE_SECONDS):
                outcome["response"] = execute()
        except NotifyError:
            # A refusal before anything was sent: Powertools deletes the claim and nothing is stored (R5).
            raise
        except Exception:
            # Raising would make Powertools delete the claim; R3 stores every outcome once execution started.
            logger.exception("execution failed", extra={"api": scope.api})
            outcome["response"] = stored_error(ExecutionFailed())
        return outcome["response"]

    config = _config(scope.api)
    if lambda_context is not None:
        # Lets an INPROGRESS claim lapse when this invocation times out, so a retry can run.
        config.register_lambda_context(lambda_context)
    idempotent = idempotent_function(
        data_keyword_argument="claim",
        persistence_store=idempotency_store(scope.api),
        config=config,
        key_prefix=scope.api,
    )(execute_and_remember)
    # The request manifests execution records are written with the completion, in one transaction.
    try:
        return idempotent(claim=scope.claim_data())
    except (IdempotencyAlreadyInProgressError, IdempotencyInconsistentStateError) as exc:
        count("IdempotencyConflict", api=scope.api)
        raise IdempotencyKeyInUse() from exc
    except IdempotencyValidationError as exc:
        count("IdempotencyKeyReused", api=scope.api)
        raise IdempotencyKeyReused() from exc
    except IdempotencyPersistenceLayerError as exc:
        if "response" in outcome:
            # Executed, but the completion write failed. The claim lapses with the invocation, and a retry
            # re-executes with the same ids, so senders deliver once (R8). The client gets its answer if the status
            # route can find the request; else a 503, and its retry records it (docs/contract.md section 7).
            logger.error("idempotency completion failed", extra={"api": scope.api, "error": str(exc)})
            if not _write_manifests_alone(scope):
                count("RequestUnrecorded", api=scope.api)
                raise ServiceUnavailable() from exc
            return outcome["response"]
        logger.error("idempotency store unreachable", extra={"api": scope.api, "error": str(exc)})
        count("IdempotencyStoreUnavailable", api=scope.api)
        raise ServiceUnavailable() from exc


def _write_manifests_alone(scope: RequestScope) -> bool:
    """The completion carried the request's manifests: write them on their own, so the status route finds the
    request the client is answered about. False when they could not be written (logged)."""
    try:
        scope.claim.manifests.write()
    except (BotoCoreError, ClientError, RuntimeError) as exc:
        logger.error("request record failed", extra={"api": scope.api, "error": str(exc)})
        return False
    return True


def look_up_key(workspace: str, version: str, api: str, raw_key: str) -> StoredResponse:
    """What a key holds now (K1-K4): one read of its record, never a claim, an execution or a longer expiry.

    The key is read as the header is (R1: trimmed, the quoted form unquoted) and hashed by the persistence layer
    configured as the POST configures it, so the lookup finds exactly the record the POST claimed (R2)."""
    from notify.models.responses import IdempotencyKeyState
    from notify.timestamps import iso_utc

    if api not in LOOKUP_APIS:
        raise RouteNotFound()
    key = read_idempotency_key({IDEMPOTENCY_KEY_HEADER: unquote(raw_key)})
    if key is None or version != "live":
        raise IdempotencyKeyNotFound()  # R7: a `test` key is never stored
    known = cast(ApiName, api)
    scope = RequestScope(workspace=workspace, api=known, version=version, options=IdempotencyOptions(key=key))
    store = idempotency_store(known)
    store.configure(_config(known), key_prefix=known)
    hashed = store._get_hashed_idempotency_key(data=scope.claim_data())
    try:
        record = store.read_record(hashed) if hashed is not None else None
    except (BotoCoreError, ClientError) as exc:
        logger.error("idempotency store unreachable", extra={"api": api, "error": str(exc)})
        raise ServiceUnavailable() from exc
    if record is None:
        raise IdempotencyKeyNotFound()
    stored = json.loads(record.response_data) if record.status == "COMPLETED" and record.response_data else None
    created = record.received_ms if record.received_ms is not None else record.expiry * 1000
    state = IdempotencyKeyState(
        state="completed" if stored is not None else "in_progress",
        status_code=stored["statusCode"] if stored is not None else None,
        response=json.loads(stored["body"]) if stored is not None else None,
        request_id=scope.request_id_in_lifetime(record.expiry),
        created_at=iso_utc(datetime.fromtimestamp(created / 1000, UTC)),
        expires_at=iso_utc(datetime.fromtimestamp(record.expiry, UTC)),
    )
    return stored_response(200, state)


# Fingerprints of recent small bodies, per container: a retry sends the body it sent before, and a replay from the
# container's cache then costs a dict lookup instead of parsing and hashing the body again.
_FINGERPRINTS_KEPT = 256
_FINGERPRINTED_BODY_BYTES = 16 * 1024


def request_fingerprint(body: str | bytes | None) -> str:
    """SHA-256 of the body's canonical JSON (sorted keys, no whitespace: M2), so a retry whose JSON serialiser
    orders keys or spaces differently is the same request; of its bytes when it is not JSON (or past the body
    limit, which is refused anyway: it is not parsed twice for nothing)."""
    if body is None or len(body) > _FINGERPRINTED_BODY_BYTES:
        return _fingerprint(body)
    return _remembered_fingerprint(body)


@per_container_bounded(_FINGERPRINTS_KEPT)
def _remembered_fingerprint(body: str | bytes) -> str:
    return _fingerprint(body)


def _fingerprint(body: str | bytes | None) -> str:
    from notify.models.limits import MAX_BODY_BYTES

    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else (body or b"")
    if len(raw) <= MAX_BODY_BYTES:
        try:
            canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            return "json:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
        except (ValueError, RecursionError):
            pass  # not JSON (or nested past what json parses): its bytes are its identity
    return "raw:" + hashlib.sha256(raw).hexdigest()


def replay_from_container(
    api: ApiName, workspace: str, version: str, headers: Mapping[str, str], body: str | bytes | None
) -> StoredResponse | None:
    """The answer this container's cache holds for the request's key (R4), found as the full path finds it but
    without building its claim: the same record, the same hook (`Idempotency-Replayed`, the IdempotencyReplayed
    count). None whenever the full path must decide: no key or a blank one, a `test` request, a key the container
    holds no completed answer for (a cold container, a claim in progress, an expired record), or a body whose
    fingerprint differs from the stored one (M1 reads the workspace's mode there)."""
    if version != "live":
        return None
    try:
        key = read_idempotency_key(headers)
    except RequestValidationError:
        return None
    store = idempotency_store(api)
    if key is None or not store.configured:
        return None
    cached = store._retrieve_from_cache(idempotency_key=store.hashed_key([workspace, api, key]))
    if cached is None or cached.status != STATUS_CONSTANTS["COMPLETED"]:
        return None
    if cached.payload_hash and cached.payload_hash != request_fingerprint(body):
        return None
    response: StoredResponse = _mark_replayed(cached.response_json_as_dict(), cached)
    return response


def serve_request(
    api: ApiName,
    workspace: str,
    version: str,
    headers: Mapping[str, str],
    execute: Callable[[RequestScope], StoredResponse],
    lambda_context: Any = None,
    body: str | bytes | None = None,
) -> StoredResponse:
    """parse -> claim -> execute -> answer, for the POST APIs: only the key (and, to tell a changed request in strict
    mode, the body's fingerprint: M1) is read before the replay (R4)."""
    from notify.logic.definitions import is_strict

    key = read_idempotency_key(headers)
    options = IdempotencyOptions(key=key, expires_at=_expiry_to_claim_with(headers)) if key is not None else None
    scope = RequestScope(workspace=workspace, api=api, version=version, options=options)
    if scope.is_idempotent:
        scope.claim.fingerprint = request_fingerprint(body)
        scope.claim.refuses_changed_request = lambda: is_strict(workspace)

    def validate_then_execute() -> StoredResponse:
        read_expiration(headers)  # strictly now: a bad header is a 400 that releases the claim (R5, R6)
        return execute(scope)

    return run_idempotently(scope, validate_then_execute, lambda_context)
