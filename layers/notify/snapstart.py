"""Lambda SnapStart runtime hooks for the API functions (template parameter EnableSnapStart, off by default).

With SnapStart, Lambda runs a function's init once when a version is published, snapshots the memory, and
starts every new environment from a copy of that snapshot. So:

- before the snapshot, import what the first request would otherwise import (the functions defer pydantic,
  the models, Powertools' idempotency and the product's logic to the first request to keep a plain cold start
  short; notify/api.py), so restored environments start with it loaded;
- after each restore, refresh what must not be shared between environments restored from one snapshot:
  the random generator's state (`random`; uuid4 and `secrets` read os.urandom and need nothing), the boto3
  clients (their connection pools and credentials), and the per-container caches whose entries carry a
  time (API keys, definitions, Powertools' idempotency cache, settings).

Outside Lambda, or on a runtime without SnapStart's hook library (`snapshot_restore_py`), registering does
nothing; the hooks themselves are plain functions, tested in tests/unit/test_snapstart.py.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Sequence

# What every API function's first request imports, whatever its route (auth, the idempotency flow).
COMMON_PRELOAD = ("pydantic", "notify.logic.auth", "notify.logic.idempotency", "notify.models.definitions")


def before_snapshot(preload: Sequence[str]) -> None:
    """Import `preload` (module names) and COMMON_PRELOAD, so the snapshot holds them."""
    for module in (*COMMON_PRELOAD, *preload):
        importlib.import_module(module)


def after_restore() -> None:
    """Give this restored environment its own random state, clients and caches."""
    random.seed()  # from os.urandom: no two restored environments share a sequence
    from notify.caches import reset

    reset()


def register(preload: Sequence[str] = ()) -> bool:
    """Register both hooks with the Lambda runtime; False (nothing registered) where SnapStart is unavailable."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(lambda: before_snapshot(preload))
    register_after_restore(after_restore)
    return True
