"""`fangpin rules list` says in plain words what "structure only" means, and every reference
the rulesets cite resolves inside the repository (docs/policy/)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from fangpin_cli.main import app
from fangpin_cli.rules import READ_BY, SECTIONS

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "docs" / "policy"
SHARED_DOMAIN = REPO.parent / "shared" / "spec" / "DOMAIN.md"
COPY_HEADER_LINES = 6  # the comment saying where the copy comes from, and a blank line


def references(node: Any) -> Iterator[str]:
    """Every `reference:` value in a loaded ruleset file."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def cited() -> list[str]:
    found = [
        reference
        for path in sorted((REPO / "rulesets").rglob("*.yaml"))
        for reference in references(yaml.safe_load(path.read_text(encoding="utf-8")))
    ]
    assert len(found) > 40  # every dated value carries one
    return found


def test_rules_list_explains_structure_only_and_where_references_resolve() -> None:
    result = CliRunner().invoke(app, ["rules", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    undeclared = [name for name in READ_BY if name not in SECTIONS]
    for name in undeclared:
        assert f"{name} (structure only, see below)" in result.output
    assert "no declaration loaded" not in text
    assert "parameter names and types are declared by the services that read them" in text
    assert "procedure: approval, intake and notify" in text
    assert "checked for shape, start dates and references" in text
    assert '"DOMAIN.md §n" is docs/policy/DOMAIN.md' in text
    assert "docs/policy/REFERENCES.md" in text
    for named in ("DOMAIN.md", "REFERENCES.md"):
        assert (POLICY / named).is_file()


def test_every_domain_section_the_rulesets_cite_is_in_the_repository_copy() -> None:
    headings = set(re.findall(r"^## (\d+)\.", (POLICY / "DOMAIN.md").read_text(), re.M))
    sections = {n for reference in cited() for n in re.findall(r"DOMAIN\.md §(\d+)", reference)}
    assert sections  # the rulesets do cite DOMAIN.md
    assert sections <= headings, sorted(sections - headings)


def test_every_seed_document_and_document_number_cited_is_listed() -> None:
    listed = (POLICY / "REFERENCES.md").read_text()
    seeds = {code for reference in cited() for code in re.findall(r"\b00[0-3]\b", reference)}
    numbers = {
        number
        for reference in cited()
        for number in re.findall(r"[\u4e00-\u9fff]+〔\d{4}〕\d+号", reference)
    }
    assert seeds and numbers
    for code in sorted(seeds):
        assert re.search(rf"^\| {code} \|", listed, re.M), f"seed document {code} not listed"
    for number in sorted(numbers):
        assert number in listed, f"{number} not listed"


def test_the_domain_copy_equals_the_shared_notes() -> None:
    if not SHARED_DOMAIN.exists():
        pytest.skip(f"no shared spec beside this checkout ({SHARED_DOMAIN}); the copy stands")
    copy = (POLICY / "DOMAIN.md").read_text(encoding="utf-8").splitlines(keepends=True)
    assert "../shared/spec/DOMAIN.md" in "".join(copy[:COPY_HEADER_LINES])
    assert "".join(copy[COPY_HEADER_LINES:]) == SHARED_DOMAIN.read_text(encoding="utf-8")
