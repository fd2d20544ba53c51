"""Dated ruleset parameters: load, validate and resolve `rulesets/<scope>/<section>.yaml` files."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import yaml

__all__ = [
    "BASELINE_SCOPE",
    "DatedValue",
    "ParameterError",
    "ParameterSpec",
    "ResolvedParameters",
    "Section",
    "SectionSpec",
    "Timeline",
    "available_provinces",
    "default_rulesets_dir",
    "load_section",
    "sections_in",
    "undeclared_spec",
]

BASELINE_SCOPE: Final = "cn"
ENV_RULESETS_DIR: Final = "FANGPIN_RULESETS_DIR"
_PARAMETER_KEYS: Final = frozenset({"description", "unit", "values"})
_VALUE_KEYS: Final = frozenset({"start", "value", "reference"})
_FILE_KEYS: Final = frozenset({"section", "parameters", "description"})


class ParameterError(ValueError):
    """A ruleset file or lookup that cannot be used; names the file, the key and the reason."""

    def __init__(self, file: str | Path, key: str, reason: str) -> None:
        super().__init__(f"{file}: {key}: {reason}" if key else f"{file}: {reason}")
        self.file = str(file)
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter a service declares: its name and value type.

    `type` is `int` (integers only), `float` (any number; an integer stays an integer, so
    7300 renders as 7300), `bool`, `str`, `dict` (a mapping with text keys), `list`, or
    `object` (any non-null value: for structure-only checks).
    """

    name: str
    type: type
    description: str = ""


@dataclass(frozen=True)
class SectionSpec:
    """The parameters of one section (file `<section>.yaml`), declared by the service using it."""

    name: str
    parameters: tuple[ParameterSpec, ...]
    # A service reading a few parameters of a section another service owns (intake reads the
    # procedure's verification limit) declares a partial view: undeclared parameters in the
    # file are skipped here; the owner's full declaration still rejects unknown ones.
    partial: bool = False

    def __post_init__(self) -> None:
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError(f"section {self.name}: parameter declared twice")

    def spec(self, name: str) -> ParameterSpec | None:
        """The declaration of `name`, or None when the section does not declare it."""
        return next((p for p in self.parameters if p.name == name), None)


@dataclass(frozen=True)
class DatedValue:
    """A value in force from `start` until the next start date, with its legal reference."""

    start: date
    value: Any
    reference: str


@dataclass(frozen=True)
class Timeline:
    """All dated values of one parameter in one scope, sorted by start date."""

    name: str
    values: tuple[DatedValue, ...]
    file: str
    description: str = ""
    unit: str = ""

    def at(self, on: date) -> DatedValue | None:
        """The value whose start is the latest on or before `on`, or None before the first."""
        found: DatedValue | None = None
        for dated in self.values:
            if dated.start > on:
                break
            found = dated
        return found


@dataclass(frozen=True)
class ResolvedParameters(Mapping[str, Any]):
    """Every parameter of a section as in force on one date, for one scope.

    `ruleset_id` is `<scope>@<date>`: the scope is `cn` for the national baseline or `cn-<code>`
    when a province file exists for the requested province (e.g. `cn-52@2023-01-01`), and the
    date is the latest start date among the values in force, so two as-of dates with the same
    id resolve the same values.
    """

    section: str
    as_of: date
    province: str | None
    parameters: Mapping[str, Any]
    sources: Mapping[str, DatedValue]

    @property
    def scope(self) -> str:
        """`cn` or `cn-<province>`."""
        return BASELINE_SCOPE if self.province is None else f"{BASELINE_SCOPE}-{self.province}"

    @property
    def effective(self) -> date:
        """Latest start date among the values in force."""
        return max(dated.start for dated in self.sources.values())

    @property
    def ruleset_id(self) -> str:
        """`<scope>@<latest start date in force>`, e.g. `cn@2024-01-01`."""
        return f"{self.scope}@{self.effective.isoformat()}"

    def reference(self, name: str) -> str:
        """Legal reference of the value in force for `name`."""
        return self.sources[name].reference

    def __getitem__(self, name: str) -> Any:
        return self.parameters[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.parameters)

    def __len__(self) -> int:
        return len(self.parameters)


@dataclass(frozen=True)
class Section:
    """A loaded section: the baseline timelines and each province's overriding timelines."""

    spec: SectionSpec
    baseline: Mapping[str, Timeline]
    provinces: Mapping[str, Mapping[str, Timeline]] = field(default_factory=dict)

    def timeline(self, name: str, province: str | None = None) -> Timeline:
        """The effective timeline of `name`: the province's from its first start date on."""
        base = self.baseline[name]
        override = self.provinces.get(province or "", {}).get(name)
        if override is None:
            return base
        first = override.values[0].start
        merged = tuple(v for v in base.values if v.start < first) + override.values
        return Timeline(name, merged, override.file, base.description, base.unit)

    def resolve(self, as_of: date, province: str | None = None) -> ResolvedParameters:
        """Parameters in force on `as_of`; `province` (2 digits) applies its overrides if any.

        A province without a file resolves to the baseline (scope `cn`). A province override
        replaces the baseline from its first start date onward. Raises ParameterError when a
        parameter has no value in force on `as_of`.
        """
        scope_province = province if province in self.provinces else None
        values: dict[str, Any] = {}
        sources: dict[str, DatedValue] = {}
        for spec in self.spec.parameters:
            timeline = self.timeline(spec.name, scope_province)
            dated = timeline.at(as_of)
            if dated is None:
                first = timeline.values[0].start.isoformat()
                raise ParameterError(
                    timeline.file,
                    spec.name,
                    f"missing value: none in force on {as_of} (first {first})",
                )
            values[spec.name] = dated.value
            sources[spec.name] = dated
        return ResolvedParameters(
            section=self.spec.name,
            as_of=as_of,
            province=scope_province,
            parameters=MappingProxyType(values),
            sources=MappingProxyType(sources),
        )


def default_rulesets_dir() -> Path:
    """`$FANGPIN_RULESETS_DIR`, else the repository's `rulesets/` found above this package."""
    configured = os.environ.get(ENV_RULESETS_DIR)
    if configured:
        return Path(configured)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "rulesets"
        if (candidate / BASELINE_SCOPE).is_dir():
            return candidate
    raise ParameterError(
        "rulesets", "", f"no rulesets directory found above {__file__}; set {ENV_RULESETS_DIR}"
    )


def available_provinces(section: str, rulesets_dir: Path | None = None) -> list[str]:
    """Province codes that have an override file for `section`, sorted."""
    root = (rulesets_dir or default_rulesets_dir()) / "provinces"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / f"{section}.yaml").is_file())


def sections_in(rulesets_dir: Path | None = None) -> list[str]:
    """Section names that have a baseline file (`cn/<section>.yaml`), sorted."""
    root = (rulesets_dir or default_rulesets_dir()) / BASELINE_SCOPE
    return sorted(p.stem for p in root.glob("*.yaml")) if root.is_dir() else []


def undeclared_spec(section: str, rulesets_dir: Path | None = None) -> SectionSpec:
    """A spec accepting the baseline file's own parameter names with any scalar value.

    For checking the structure of a section no loaded service declares (e.g. in the CLI).
    """
    path = (rulesets_dir or default_rulesets_dir()) / BASELINE_SCOPE / f"{section}.yaml"
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise ParameterError(path, "", f"malformed YAML: {exc}") from None
    names = document.get("parameters") if isinstance(document, dict) else None
    if not isinstance(names, dict) or not names:
        raise ParameterError(path, "parameters", "malformed: expected a non-empty mapping")
    return SectionSpec(section, tuple(ParameterSpec(str(name), object) for name in names))


def load_section(spec: SectionSpec, rulesets_dir: Path | None = None) -> Section:
    """Load and validate `cn/<section>.yaml` and every `provinces/<code>/<section>.yaml`.

    Fails with ParameterError (file, key, reason) on malformed YAML or structure, unknown or
    missing parameters, values of the wrong type, missing values or references, and duplicate
    or unordered start dates.
    """
    root = rulesets_dir or default_rulesets_dir()
    baseline_file = root / BASELINE_SCOPE / f"{spec.name}.yaml"
    baseline = _load_file(spec, baseline_file, require_all=True)
    provinces: dict[str, Mapping[str, Timeline]] = {}
    for code in available_provinces(spec.name, root):
        path = root / "provinces" / code / f"{spec.name}.yaml"
        if not (len(code) == 2 and code.isdigit()):
            raise ParameterError(path, "", f"province directory {code!r} is not a 2-digit code")
        provinces[code] = _load_file(spec, path, require_all=False)
    return Section(spec=spec, baseline=baseline, provinces=provinces)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (PyYAML silently keeps the last)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


def _construct_timestamp(loader: _StrictLoader, node: yaml.ScalarNode) -> str:
    # Dates stay text here and are parsed where their key is known, so an impossible date
    # (2021-13-01) fails with the file and key instead of deep inside PyYAML.
    return str(loader.construct_scalar(node))


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _load_file(spec: SectionSpec, path: Path, *, require_all: bool) -> dict[str, Timeline]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParameterError(path, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # _StrictLoader is a SafeLoader
    except yaml.YAMLError as exc:
        raise ParameterError(path, "", f"malformed YAML: {exc}") from None
    if not isinstance(document, dict):
        raise ParameterError(path, "", "malformed: expected a mapping with section and parameters")
    if unknown := sorted(map(str, set(document) - _FILE_KEYS)):
        raise ParameterError(path, unknown[0], "unknown top-level key")
    if document.get("section") != spec.name:
        raise ParameterError(
            path, "section", f"expected {spec.name!r}, got {document.get('section')!r}"
        )
    parameters = document.get("parameters")
    if not isinstance(parameters, dict) or not parameters:
        raise ParameterError(path, "parameters", "malformed: expected a non-empty mapping")
    timelines: dict[str, Timeline] = {}
    for name, body in parameters.items():
        declared = spec.spec(str(name))
        if declared is None:
            if spec.partial:
                continue
            raise ParameterError(path, str(name), f"unknown parameter for section {spec.name!r}")
        timelines[declared.name] = _timeline(path, declared, body)
    if require_all:
        for declared in spec.parameters:
            if declared.name not in timelines:
                raise ParameterError(path, declared.name, "missing parameter: declared but not set")
    return timelines


def _timeline(path: Path, spec: ParameterSpec, body: Any) -> Timeline:
    key = spec.name
    if not isinstance(body, dict):
        raise ParameterError(path, key, "malformed: expected a mapping with values")
    if unknown := sorted(map(str, set(body) - _PARAMETER_KEYS)):
        raise ParameterError(path, f"{key}.{unknown[0]}", "unknown key")
    raw_values = body.get("values")
    if not isinstance(raw_values, list) or not raw_values:
        raise ParameterError(path, f"{key}.values", "missing value: expected a non-empty list")
    values: list[DatedValue] = []
    for index, item in enumerate(raw_values):
        where = f"{key}.values[{index}]"
        if not isinstance(item, dict):
            raise ParameterError(path, where, "malformed: expected {start, value, reference}")
        if unknown := sorted(map(str, set(item) - _VALUE_KEYS)):
            raise ParameterError(path, f"{where}.{unknown[0]}", "unknown key")
        start = _start_date(path, where, item.get("start"))
        if "value" not in item or item["value"] is None:
            raise ParameterError(path, f"{where}.value", "missing value")
        value = _typed(path, f"{where}.value", spec.type, item["value"])
        reference = item.get("reference")
        if not isinstance(reference, str) or not reference.strip():
            raise ParameterError(path, f"{where}.reference", "missing legal reference")
        if values and start <= values[-1].start:
            reason = (
                "duplicate start date" if start == values[-1].start else "start dates out of order"
            )
            raise ParameterError(
                path, f"{where}.start", f"{reason} ({start}, overlaps {values[-1].start})"
            )
        values.append(DatedValue(start=start, value=value, reference=reference.strip()))
    description = body.get("description", "")
    unit = body.get("unit", "")
    if not isinstance(description, str) or not isinstance(unit, str):
        raise ParameterError(path, key, "malformed: description and unit must be text")
    return Timeline(key, tuple(values), str(path), description, unit)


def _start_date(path: Path, where: str, raw: Any) -> date:
    if isinstance(raw, date) and not hasattr(raw, "hour"):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise ParameterError(path, f"{where}.start", f"missing or invalid start date: {raw!r}")


def _typed(path: Path, where: str, kind: type, raw: Any) -> Any:
    if kind is bool:
        ok = isinstance(raw, bool)
    elif kind is int:
        ok = isinstance(raw, int) and not isinstance(raw, bool)
    elif kind is float:
        ok = isinstance(raw, int | float) and not isinstance(raw, bool)
    elif kind is str:
        ok = isinstance(raw, str)
    elif kind is dict:
        ok = isinstance(raw, dict) and all(isinstance(k, str) for k in raw)
    elif kind is list:
        ok = isinstance(raw, list)
    elif kind is object:
        ok = raw is not None
    else:
        raise ParameterError(path, where, f"unsupported parameter type {kind.__name__}")
    if ok and isinstance(raw, float) and not math.isfinite(raw):
        raise ParameterError(path, where, f"expected a finite number, got {raw!r}")
    if not ok:
        expected = {float: "number", dict: "mapping", list: "list"}.get(kind, kind.__name__)
        raise ParameterError(path, where, f"expected {expected}, got {type(raw).__name__} {raw!r}")
    return raw
