"""What the local stack sees pass and AWS records nowhere: replayed answers and the sender's receives."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from notify.timestamps import iso_utc

# Headers are matched lowercased; Powertools' replay is marked by the API with this one (docs/contract.md R1).
REPLAYED_HEADER = "idempotency-replayed"
# Receives kept per msg_id: enough for every retry SQS allows, bounded for a message that loops.
MAX_RECEIVES_KEPT = 50


class ReplayCounter:
    """Replays per (workspace, request_id), counted from the answers the local HTTP API returns."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = defaultdict(int)

    def observe(self, workspace: str | None, headers: list[tuple[str, str]], body: bytes) -> None:
        """Count one answer; only a replayed one (`Idempotency-Replayed: true`) with a request id counts."""
        if workspace is None or not any(
            name.lower() == REPLAYED_HEADER and value.strip().lower() == "true" for name, value in headers
        ):
            return
        request_ids = _request_ids(body)
        with self._lock:
            for request_id in request_ids:
                self._counts[(workspace, request_id)] += 1

    def count(self, workspace: str, request_id: str) -> int:
        with self._lock:
            return self._counts.get((workspace, request_id), 0)


def _request_ids(body: bytes) -> list[str]:
    """The request id of an answer, and those of a bulk answer's items (each has a status of its own)."""
    try:
        answer = json.loads(body)
    except ValueError:
        return []
    if not isinstance(answer, dict):
        return []
    ids = [answer["request_id"]] if isinstance(answer.get("request_id"), str) else []
    items = answer.get("response")
    if isinstance(items, list):
        ids += [
            item["request_id"] for item in items if isinstance(item, dict) and isinstance(item.get("request_id"), str)
        ]
    return ids


@dataclass(frozen=True)
class Receive:
    """One receive of a notification's queue message by the sender, and what became of the message."""

    at: str
    receive_count: int
    back_on_queue: bool


class SenderReceives:
    """Each time the SQS event source handed a notification to the sender, by msg_id (timeline entries)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._receives: dict[str, list[Receive]] = defaultdict(list)

    def observe(self, records: list[dict[str, Any]], failed_message_ids: set[str], received_at: float) -> None:
        """One invocation's batch (Lambda-shaped records), the messages it left on the queue, and when the
        sender got it (epoch seconds)."""
        now = iso_utc(datetime.fromtimestamp(received_at, UTC))
        for record in records:
            try:
                msg_id = json.loads(record["body"]).get("msg_id")
            except (ValueError, AttributeError, KeyError):
                continue
            if not isinstance(msg_id, str):
                continue
            receive_count = int(record.get("attributes", {}).get("ApproximateReceiveCount", 0) or 0)
            receive = Receive(now, receive_count, record["messageId"] in failed_message_ids)
            with self._lock:
                kept = self._receives[msg_id]
                kept.append(receive)
                del kept[:-MAX_RECEIVES_KEPT]

    def of(self, msg_id: str) -> list[Receive]:
        with self._lock:
            return list(self._receives.get(msg_id, ()))
