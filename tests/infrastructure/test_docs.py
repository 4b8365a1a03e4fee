"""The docs name tests that exist: every row of docs/guarantees.md and docs/contract.md points at a real test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# `unit/test_x.py::test_name[params]`, or `::test_name` for another test of the file named before it.
REFERENCE = re.compile(r"`((?:[a-z_]+/)?test_[a-z0-9_]+\.py)?::(test_[A-Za-z0-9_]+?)(\*)?(?:\[[^\]]*\])?`")


def references(document: str) -> list[tuple[str, str, bool]]:
    found, last_file = [], ""
    for match in REFERENCE.finditer((ROOT / document).read_text()):
        last_file = match[1] or last_file
        found.append((last_file, match[2], bool(match[3])))
    return found


@pytest.mark.parametrize("document", ["docs/guarantees.md", "docs/contract.md"])
def test_every_test_a_document_names_exists(document: str) -> None:
    named = references(document)
    assert named, f"{document} names no test"
    missing = []
    for file, name, prefix in named:
        source = (ROOT / "tests" / file).read_text()
        ending = "" if prefix else r"\("
        pattern = rf"^def {re.escape(name)}{ending}"
        if not re.search(pattern, source, re.MULTILINE):
            missing.append(f"{file}::{name}{'*' if prefix else ''}")
    assert missing == []
