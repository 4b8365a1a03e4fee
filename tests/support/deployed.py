"""A deployed stack: the one a samconfig.toml environment names (the e2e suite's world)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def stack_name_for(environment: str) -> str:
    """The stack of a samconfig.toml environment: the same name `make deploy ENV=...` deploys."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    return str(config[environment]["global"]["parameters"]["stack_name"])


@dataclass(frozen=True)
class DeployedStack:
    api_url: str
    workspace: str
    api_key: str
