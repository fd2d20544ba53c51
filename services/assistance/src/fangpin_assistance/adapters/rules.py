"""Assistance's dated parameters (rulesets/<scope>/assistance.yaml) and its measure catalog."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import date
from pathlib import Path

from fangpin_assistance.domain.catalog import Catalog, CatalogError, CatalogSource, load_catalog
from fangpin_assistance.domain.parameters import AssistanceParameters
from fangpin_kit.parameters import ParameterError, ParameterSpec, SectionSpec, load_section

ASSISTANCE_SECTION = SectionSpec(
    "assistance",
    tuple(ParameterSpec(f.name, int) for f in fields(AssistanceParameters)),
)


def assistance_rules_provider(
    rulesets_dir: Path, province: str | None, *, check_on: date
) -> Callable[[date], AssistanceParameters]:
    """Assistance parameters in force on a date for the county's province.

    The values in force on `check_on` (the service's today) are checked at once, so a bad
    ruleset fails at start-up rather than at the first event."""
    section = load_section(ASSISTANCE_SECTION, rulesets_dir)
    cache: dict[str, AssistanceParameters] = {}

    def rules_on(day: date) -> AssistanceParameters:
        resolved = section.resolve(day, province)
        key = resolved.ruleset_id
        if key not in cache:
            cache[key] = AssistanceParameters.from_mapping(dict(resolved))
        return cache[key]

    rules_on(check_on)
    return rules_on


def county_catalog(extensions: Sequence[Path] = ()) -> Catalog:
    """The national baseline catalog merged with the county's extension files, in order."""
    sources = []
    for path in extensions:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise CatalogError(
                str(path), "<document>", f"cannot read: {err.strerror or err}"
            ) from err
        sources.append(CatalogSource(name=str(path), text=text))
    return load_catalog(extensions=sources)


__all__ = [
    "ASSISTANCE_SECTION",
    "CatalogError",
    "ParameterError",
    "assistance_rules_provider",
    "county_catalog",
]
