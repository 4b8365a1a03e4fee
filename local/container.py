"""One Lambda container in this process: its handler modules and per-container state.

The unit tests and the bench run the handlers in-process; both start "containers" from here, so
a cache added to the product is forgotten by both or by neither.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType

from local.template import ROOT
from notify.caches import reset


def import_function(name: str, instance: str = "") -> ModuleType:
    """Import functions/<name>/app.py the way Lambda does, under a name that cannot collide.

    Each `instance` is a module of its own, like the handler in another Lambda container: the
    Powertools resolver keeps per-request state, so concurrent requests need one each.
    """
    spec = importlib.util.spec_from_file_location(f"{name}_app{instance}", ROOT / "functions" / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reset_container_state() -> None:
    """What a new Lambda container starts without: settings, clients, and every per-container cache."""
    reset()
