"""`fangpin rules list|show|check`: the dated ruleset parameters, offline."""

from __future__ import annotations

import json
import textwrap
from datetime import date
from pathlib import Path
from typing import Any, Final

import typer

from fangpin_cli.today import today
from fangpin_kit.parameters import (
    ParameterError,
    Section,
    SectionSpec,
    available_provinces,
    default_rulesets_dir,
    load_section,
    sections_in,
    undeclared_spec,
)
from fangpin_kit.workdays import SHIPPED_CALENDAR, fallback_years, load_calendar
from fangpin_screening.domain.parameters import SCREENING_SECTION

SECTIONS: Final[dict[str, SectionSpec]] = {SCREENING_SECTION.name: SCREENING_SECTION}
"""Sections whose parameter names and types are declared; others are checked for structure."""

READ_BY: Final[dict[str, str]] = {
    "procedure": "approval, intake and notify",
    "assistance": "assistance",
    "notify": "notify",
}
"""The services that declare and read each section this command has no declaration of."""

REFERENCES_NOTE: Final = (
    'references (`fangpin rules show`): "DOMAIN.md §n" is docs/policy/DOMAIN.md; "000" to '
    '"003" ("reference 000", "000 plan 3") are the seed policy documents and 〔year〕 numbers '
    "official documents, both listed with the clauses cited in docs/policy/REFERENCES.md"
)

app = typer.Typer(no_args_is_help=True, help="Dated ruleset parameters (rulesets/).")

_DIR_OPTION = typer.Option(None, "--dir", help="rulesets directory (default $FANGPIN_RULESETS_DIR)")


def _root(directory: Path | None) -> Path:
    try:
        return directory or default_rulesets_dir()
    except ParameterError as exc:
        typer.echo(f"fangpin rules: {exc}", err=True)
        raise typer.Exit(2) from None


def _load(name: str, root: Path) -> Section:
    spec = SECTIONS.get(name) or undeclared_spec(name, root)
    return load_section(spec, root)


def ruleset_ids(section: Section, province: str | None = None) -> list[str]:
    """Every ruleset id the section yields: one per distinct start date of the scope."""
    scope = "cn" if province is None else f"cn-{province}"
    starts = {
        dated.start
        for spec in section.spec.parameters
        for dated in section.timeline(spec.name, province).values
    }
    return [f"{scope}@{start.isoformat()}" for start in sorted(starts)]


@app.command("list")
def list_rulesets(directory: Path | None = _DIR_OPTION) -> None:
    """List each section, its province overrides and the ruleset ids by start date.

    A section marked "structure only" is checked here for its files' shape, start dates and
    references; the names and types of its parameters are declared by the services that read
    it, which check them when they load the section.
    """
    root = _root(directory)
    structure_only: list[str] = []
    for name in sections_in(root):
        try:
            section = _load(name, root)
        except ParameterError as exc:
            typer.echo(f"{name}: INVALID ({exc})")
            continue
        if name not in SECTIONS:
            structure_only.append(name)
        typer.echo(f"{name}{'' if name in SECTIONS else ' (structure only, see below)'}")
        typer.echo(f"  baseline: {' '.join(ruleset_ids(section))}")
        for code in sorted(section.provinces):
            typer.echo(f"  province {code}: {' '.join(ruleset_ids(section, code))}")
    for paragraph in (_structure_only_note(structure_only), REFERENCES_NOTE):
        if paragraph:
            typer.echo("")
            typer.echo(textwrap.fill(paragraph, 88))


def _structure_only_note(names: list[str]) -> str:
    """Plain words for "structure only": what was checked here and what the services check."""
    if not names:
        return ""
    readers = "; ".join(
        f"{name}: {READ_BY.get(name, 'the service that reads it')}" for name in names
    )
    return (
        f"structure only ({', '.join(names)}): these sections' parameter names and types are "
        f"declared by the services that read them ({readers}), which this command does not "
        "load. Here (and in `fangpin rules check`) their files are checked for shape, start "
        "dates and references; each service checks the names and types when it loads the "
        "section at start."
    )


@app.command("show")
def show(
    section: str = typer.Argument(
        "screening", help="section name (file rulesets/cn/<section>.yaml)"
    ),
    as_of: str | None = typer.Option(None, "--as-of", help="YYYY-MM-DD (default today)"),
    province: str | None = typer.Option(None, "--province", help="2-digit province code"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    directory: Path | None = _DIR_OPTION,
) -> None:
    """Show the parameters in force on a date, with their start dates and legal references."""
    root = _root(directory)
    try:
        day = date.fromisoformat(as_of) if as_of else today()
    except ValueError:
        raise typer.BadParameter(
            f"{as_of!r} is not a YYYY-MM-DD date", param_hint="--as-of"
        ) from None
    if section not in sections_in(root):
        typer.echo(f"fangpin rules: no section {section!r} in {root}", err=True)
        raise typer.Exit(2)
    try:
        resolved = _load(section, root).resolve(day, province)
    except ParameterError as exc:
        typer.echo(f"fangpin rules: {exc}", err=True)
        raise typer.Exit(1) from None
    rows: list[dict[str, Any]] = [
        {
            "name": name,
            "value": resolved[name],
            "start": resolved.sources[name].start.isoformat(),
            "reference": resolved.reference(name),
        }
        for name in resolved
    ]
    if as_json:
        payload = {"ruleset": resolved.ruleset_id, "as_of": day.isoformat(), "parameters": rows}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{resolved.ruleset_id} (section {section}, as of {day.isoformat()})")
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        value = f"{row['value']!s:>8}"
        typer.echo(f"  {row['name']:<{width}}  {value}  from {row['start']}  {row['reference']}")


def _calendar_version() -> str:
    from importlib.metadata import version

    return version("chinesecalendar")


@app.command("check")
def check(directory: Path | None = _DIR_OPTION) -> None:
    """Validate every ruleset file; print each problem (file: key: reason), exit 1 if any."""
    root = _root(directory)
    problems: list[str] = []
    names = sections_in(root)
    for name in names:
        try:
            section = _load(name, root)
        except ParameterError as exc:
            problems.append(str(exc))
            continue
        count = len(section.spec.parameters)
        typer.echo(f"ok  {name}: {count} parameters, provinces {sorted(section.provinces)}")
    provinces_dir = root / "provinces"
    for path in sorted(provinces_dir.glob("*/*.yaml")) if provinces_dir.is_dir() else []:
        if path.stem not in names:
            problems.append(f"{path}: override of section {path.stem!r} without a baseline file")
        if path.parent.name not in available_provinces(path.stem, root):
            problems.append(f"{path}: not a province override file")
    try:
        calendar = load_calendar(root)
    except ValueError as exc:
        problems.append(str(exc))
    else:
        this_year = today().year
        unknown = fallback_years(calendar, range(this_year - 1, this_year + 2))
        if unknown:
            years = ", ".join(str(y) for y in unknown)
            typer.echo(
                f"WARNING calendar: {years} not in chinesecalendar {_calendar_version()} nor in "
                f"{root / SHIPPED_CALENDAR}: working-day deadlines of {years} count Monday-Friday "
                "(no holidays, no make-up days) until the State Council's schedule is added",
                err=True,
            )
    for problem in problems:
        typer.echo(f"ERROR {problem}", err=True)
    if not names:
        typer.echo(f"ERROR {root}: no baseline sections (cn/*.yaml)", err=True)
    raise typer.Exit(1 if problems or not names else 0)
