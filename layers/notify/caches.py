"""Per-container state: what a warm Lambda container keeps between invocations, and the one `reset()` that
forgets all of it.

Every cache the product keeps across invocations is created through this module, either as a function
result (`per_container`) or as a clear callback (`on_reset`). A new container (tests, the bench, the local
stack) and an environment restored from a SnapStart snapshot both call `reset()`, so a cache added later is
forgotten by all of them or by none. Only caches of modules already imported are registered, and only those
can hold anything.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_clears: list[Callable[[], None]] = []


def per_container(function: Callable[..., T]) -> functools._lru_cache_wrapper[T]:
    """`functools.cache`, forgotten by `reset()`."""
    cached = functools.cache(function)
    _clears.append(cached.cache_clear)
    return cached


def per_container_bounded(maxsize: int) -> Callable[[Callable[..., T]], functools._lru_cache_wrapper[T]]:
    """`functools.lru_cache(maxsize)`, forgotten by `reset()`: for results keyed by what a client sends."""

    def decorate(function: Callable[..., T]) -> functools._lru_cache_wrapper[T]:
        cached = functools.lru_cache(maxsize=maxsize)(function)
        _clears.append(cached.cache_clear)
        return cached

    return decorate


def on_reset(clear: Callable[[], Any]) -> Callable[[], Any]:
    """Register `clear` (which empties a cache of its own) with `reset()`; returns it unchanged."""
    _clears.append(clear)
    return clear


def reset() -> None:
    """Forget every per-container cache: settings, clients, keys, definitions, idempotency configuration."""
    for clear in list(_clears):
        clear()
