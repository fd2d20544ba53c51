"""The project's copy of the external contract (spec/) equals the shared original."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "spec"
COPIES = [
    "CONTRACT.md",
    "household.schema.json",
    "examples/README.md",
    "examples/screening_in.jsonl",
    "examples/screening_expected.jsonl",
]


@pytest.mark.parametrize("name", COPIES)
def test_spec_copy_matches_the_shared_contract(name: str) -> None:
    original = SHARED / name
    if not original.exists():
        pytest.skip(f"no shared spec beside this checkout ({SHARED}); the copy is authoritative")
    assert (REPO / "spec" / name).read_bytes() == original.read_bytes()
