"""SnapStart runtime hooks (notify/snapstart.py): what restored environments must not share is refreshed."""

from __future__ import annotations

import random
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest

from notify import snapstart
from notify.dal.clients import client
from notify.settings import get_settings


def test_register_does_nothing_without_the_runtime_hook_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # importing it raises ImportError
    assert snapstart.register(("notify.logic.events",)) is False


def test_hooks_preload_before_the_snapshot_and_refresh_after_a_restore(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: dict[str, Callable[[], Any]] = {}
    library = types.ModuleType("snapshot_restore_py")
    library.register_before_snapshot = lambda hook: registered.setdefault("before", hook)  # type: ignore[attr-defined]
    library.register_after_restore = lambda hook: registered.setdefault("after", hook)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", library)
    monkeypatch.delitem(sys.modules, "notify.logic.bulk", raising=False)

    assert snapstart.register(("notify.logic.bulk",)) is True
    registered["before"]()
    assert "notify.logic.bulk" in sys.modules  # the snapshot holds what the first request imports

    dynamodb = client("dynamodb")
    get_settings()
    random.seed(7)
    shared = random.random()
    random.seed(7)
    registered["after"]()
    assert random.random() != shared  # reseeded: restored environments do not draw the same numbers
    assert client("dynamodb") is not dynamodb  # new clients, new connections
    assert get_settings.cache_info().currsize == 0
