"""Measure catalog (帮扶措施目录): parse, validate and merge the YAML data into value objects."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from types import MappingProxyType
from typing import Any, TypeVar

import yaml

from fangpin_assistance.domain.codes import (
    Department,
    Referral,
    RiskType,
    SafetyNet,
    SchoolStage,
    TermKind,
)

SCHEMA_VERSION = 1
ANY_TYPE = "*"
BASELINE_RESOURCE = "catalog/measures.yaml"

_E = TypeVar("_E", bound=StrEnum)


class CatalogError(ValueError):
    """A catalog file is malformed or inconsistent; the message names file, key and reason."""

    def __init__(self, source: str, path: str, reason: str) -> None:
        super().__init__(f"{source}: {path}: {reason}")
        self.source = source
        self.path = path
        self.reason = reason


class Beneficiary(StrEnum):
    """Whom a measure is for: the whole household or one member."""

    HOUSEHOLD = "household"
    MEMBER = "member"


class LaborCondition(StrEnum):
    """When a proposal applies, by the household's labor situation."""

    ANY = "any"
    LABOR = "labor"
    NO_LABOR = "no_labor"


@dataclass(frozen=True)
class Term:
    """How long a measure runs; `months` only for fixed terms."""

    kind: TermKind
    months: int | None = None


@dataclass(frozen=True)
class SubMeasure:
    """One concrete measure (e.g. 小额信贷) under a measure type, dispatched to one department."""

    measure_type: str
    code: str
    name_zh: str
    department: Department
    developmental: bool
    safety_net: bool
    term: Term
    beneficiary: Beneficiary
    school_stages: frozenset[SchoolStage] = frozenset()

    @property
    def key(self) -> str:
        """`<type>.<sub>` as written in the catalog and in plans."""
        return f"{self.measure_type}.{self.code}"


@dataclass(frozen=True)
class MeasureType:
    """One of the national measure types (帮扶措施类型) with its lead departments (牵头单位)."""

    code: str
    name_zh: str
    lead_departments: tuple[Department, ...]
    developmental: bool
    safety_net: bool
    sub_measures: Mapping[str, SubMeasure]


@dataclass(frozen=True)
class Proposal:
    """A sub-measure the planner proposes for a risk, under a labor condition."""

    measure: str
    when: LaborCondition = LaborCondition.ANY


@dataclass(frozen=True)
class CoverageRule:
    """Which measure types cover a risk or failed guarantee, and what the planner proposes."""

    code: str
    accepted: frozenset[str] | None
    """Measure types that cover it; None means any type."""
    proposals: tuple[Proposal, ...]
    fallback: str | None = None

    def accepts(self, measure_type: str) -> bool:
        """Whether an active measure of this type covers the risk."""
        return self.accepted is None or measure_type in self.accepted


@dataclass(frozen=True)
class Catalog:
    """The merged, validated catalog a county runs with."""

    measure_types: Mapping[str, MeasureType]
    risks: Mapping[RiskType, CoverageRule]
    guarantees: Mapping[Referral, CoverageRule]
    developmental_for_full_labor: str
    developmental_for_partial_labor: str
    safety_net_by_status: Mapping[SafetyNet, str]
    sources: tuple[str, ...] = field(default=())

    def sub_measure(self, key: str) -> SubMeasure:
        """Look up `<type>.<sub>`; KeyError names the unknown key."""
        type_code, _, sub_code = key.partition(".")
        measure_type = self.measure_types.get(type_code)
        if measure_type is None or sub_code not in measure_type.sub_measures:
            raise KeyError(f"unknown measure {key!r}")
        return measure_type.sub_measures[sub_code]

    def has_sub_measure(self, key: str) -> bool:
        """Whether `<type>.<sub>` is in the catalog."""
        try:
            self.sub_measure(key)
        except KeyError:
            return False
        return True


@dataclass(frozen=True)
class CatalogSource:
    """The text of one catalog file and the name errors should cite."""

    name: str
    text: str


def baseline_source() -> CatalogSource:
    """The national baseline catalog shipped inside the package."""
    resource = resources.files("fangpin_assistance").joinpath(BASELINE_RESOURCE)
    return CatalogSource(name=BASELINE_RESOURCE, text=resource.read_text(encoding="utf-8"))


def load_catalog(
    baseline: CatalogSource | None = None, extensions: Sequence[CatalogSource] = ()
) -> Catalog:
    """Parse the baseline, merge each county extension in order, validate the result."""
    base = baseline or baseline_source()
    builder = _Builder()
    builder.apply(_parse_yaml(base), base.name, baseline=True)
    for extension in extensions:
        builder.apply(_parse_yaml(extension), extension.name, baseline=False)
    return builder.finish()


# -- parsing -----------------------------------------------------------------------------

_TOP_KEYS = {"schema", "measure_types", "risks", "guarantees", "defaults"}
_TYPE_KEYS = {"name_zh", "lead_departments", "developmental", "safety_net", "sub_measures"}
_EXTENDABLE_TYPE_KEYS = {"lead_departments", "sub_measures"}
_SUB_KEYS = {"name_zh", "department", "developmental", "term", "beneficiary", "school_stages"}
_RULE_KEYS = {"accepted", "propose", "fallback"}
_PROPOSAL_KEYS = {"measure", "when"}
_LABOR_DEFAULT_KEYS = ("full", "partial")


def _parse_yaml(source: CatalogSource) -> dict[str, Any]:
    try:
        document = yaml.safe_load(source.text)
    except yaml.YAMLError as error:
        raise CatalogError(source.name, "<document>", f"not valid YAML: {error}") from error
    if not isinstance(document, dict):
        raise CatalogError(source.name, "<document>", "must be a mapping")
    return document


def _mapping(value: Any, source: str, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CatalogError(source, path, "must be a mapping")
    return value


def _keys(value: dict[str, Any], allowed: set[str], source: str, path: str) -> None:
    unknown = sorted(str(key) for key in set(value) - allowed)
    if unknown:
        raise CatalogError(source, f"{path}.{unknown[0]}", "unknown key")


def _required(value: dict[str, Any], key: str, source: str, path: str) -> Any:
    if key not in value:
        raise CatalogError(source, f"{path}.{key}", "missing")
    return value[key]


def _string(value: Any, source: str, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise CatalogError(source, path, f"must be a non-empty string, got {value!r}")
    return value


def _boolean(value: Any, source: str, path: str) -> bool:
    if not isinstance(value, bool):
        raise CatalogError(source, path, f"must be true or false, got {value!r}")
    return value


def _code(enum: type[_E], value: Any, source: str, path: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise CatalogError(source, path, f"unknown code {value!r} (one of: {allowed})") from None


def _string_list(value: Any, source: str, path: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise CatalogError(source, path, "must be a non-empty list")
    return [_string(item, source, f"{path}[{index}]") for index, item in enumerate(value)]


def _term(value: Any, source: str, path: str) -> Term:
    if isinstance(value, dict):
        _keys(value, {"months"}, source, path)
        months = _required(value, "months", source, path)
        if not isinstance(months, int) or isinstance(months, bool) or months < 1:
            raise CatalogError(source, f"{path}.months", f"must be a positive integer: {months!r}")
        return Term(TermKind.FIXED_MONTHS, months)
    kind = _code(TermKind, value, source, path)
    if kind is TermKind.FIXED_MONTHS:
        raise CatalogError(source, path, "a fixed term is written {months: N}")
    return Term(kind)


@dataclass
class _TypeDraft:
    code: str
    name_zh: str
    lead_departments: list[Department]
    developmental: bool
    safety_net: bool
    sub_measures: dict[str, SubMeasure]


@dataclass
class _RuleDraft:
    accepted: dict[str, str] | None  # measure type -> source that added it; None = any
    proposals: list[tuple[Proposal, str, str]]  # proposal, source, path
    fallback: tuple[str, str, str] | None  # key, source, path


class _Builder:
    """Accumulates the baseline and the extensions, then validates cross references."""

    def __init__(self) -> None:
        self.types: dict[str, _TypeDraft] = {}
        self.rules: dict[str, dict[str, _RuleDraft]] = {"risks": {}, "guarantees": {}}
        self.defaults: dict[str, tuple[str, str, str]] = {}  # slot -> key, source, path
        self.sources: list[str] = []

    def apply(self, document: dict[str, Any], source: str, *, baseline: bool) -> None:
        self.sources.append(source)
        _keys(document, _TOP_KEYS, source, "<document>")
        if document.get("schema", SCHEMA_VERSION) != SCHEMA_VERSION:
            raise CatalogError(source, "schema", f"unsupported version {document['schema']!r}")
        if baseline:
            for key in ("schema", *sorted(_TOP_KEYS - {"schema"})):
                _required(document, key, source, "<document>")
        types = _mapping(document.get("measure_types", {}), source, "measure_types")
        for code, body in types.items():
            self._apply_type(str(code), body, source)
        for section, enum in (("risks", RiskType), ("guarantees", Referral)):
            rules = _mapping(document.get(section, {}), source, section)
            for code, body in rules.items():
                path = f"{section}.{code}"
                _code(enum, code, source, path)
                self._apply_rule(section, str(code), body, source, path, baseline=baseline)
        defaults = _mapping(document.get("defaults", {}), source, "defaults")
        self._apply_defaults(defaults, source)

    def _apply_type(self, code: str, body: Any, source: str) -> None:
        path = f"measure_types.{code}"
        body = _mapping(body, source, path)
        existing = self.types.get(code)
        if existing is None:
            _keys(body, _TYPE_KEYS, source, path)
            draft = _TypeDraft(
                code=code,
                name_zh=_string(
                    _required(body, "name_zh", source, path), source, f"{path}.name_zh"
                ),
                lead_departments=[],
                developmental=_boolean(
                    _required(body, "developmental", source, path), source, f"{path}.developmental"
                ),
                safety_net=_boolean(
                    _required(body, "safety_net", source, path), source, f"{path}.safety_net"
                ),
                sub_measures={},
            )
            _required(body, "lead_departments", source, path)
            _required(body, "sub_measures", source, path)
            self.types[code] = draft
        else:
            overridden = sorted(set(body) - _EXTENDABLE_TYPE_KEYS)
            if overridden:
                raise CatalogError(
                    source,
                    f"{path}.{overridden[0]}",
                    "a defined measure type can only gain lead_departments and sub_measures",
                )
            draft = existing
        if "lead_departments" in body:
            for index, dept in enumerate(
                _string_list(body["lead_departments"], source, f"{path}.lead_departments")
            ):
                department = _code(Department, dept, source, f"{path}.lead_departments[{index}]")
                if department not in draft.lead_departments:
                    draft.lead_departments.append(department)
        if "sub_measures" in body:
            subs = _mapping(body["sub_measures"], source, f"{path}.sub_measures")
            if not subs and existing is None:
                raise CatalogError(source, f"{path}.sub_measures", "must not be empty")
            for sub_code, sub_body in subs.items():
                sub_path = f"{path}.sub_measures.{sub_code}"
                if sub_code in draft.sub_measures:
                    raise CatalogError(source, sub_path, "already defined")
                draft.sub_measures[str(sub_code)] = self._sub_measure(
                    draft, str(sub_code), sub_body, source, sub_path
                )

    @staticmethod
    def _sub_measure(draft: _TypeDraft, code: str, body: Any, source: str, path: str) -> SubMeasure:
        body = _mapping(body, source, path)
        _keys(body, _SUB_KEYS, source, path)
        department = _code(
            Department, _required(body, "department", source, path), source, f"{path}.department"
        )
        if department not in draft.lead_departments:
            raise CatalogError(
                source,
                f"{path}.department",
                f"{department} is not a lead department of {draft.code}",
            )
        stages = frozenset(
            _code(SchoolStage, stage, source, f"{path}.school_stages[{index}]")
            for index, stage in enumerate(
                _string_list(body["school_stages"], source, f"{path}.school_stages")
                if "school_stages" in body
                else []
            )
        )
        beneficiary = _code(
            Beneficiary, body.get("beneficiary", "household"), source, f"{path}.beneficiary"
        )
        if stages and beneficiary is not Beneficiary.MEMBER:
            raise CatalogError(source, f"{path}.school_stages", "needs beneficiary: member")
        return SubMeasure(
            measure_type=draft.code,
            code=code,
            name_zh=_string(_required(body, "name_zh", source, path), source, f"{path}.name_zh"),
            department=department,
            developmental=_boolean(
                body.get("developmental", draft.developmental), source, f"{path}.developmental"
            ),
            safety_net=draft.safety_net,
            term=_term(_required(body, "term", source, path), source, f"{path}.term"),
            beneficiary=beneficiary,
            school_stages=stages,
        )

    def _apply_rule(
        self, section: str, code: str, body: Any, source: str, path: str, *, baseline: bool
    ) -> None:
        body = _mapping(body, source, path)
        _keys(body, _RULE_KEYS, source, path)
        drafts = self.rules[section]
        draft = drafts.get(code)
        if draft is None:
            if not baseline:
                raise CatalogError(source, path, "not in the baseline catalog")
            _required(body, "accepted", source, path)
            _required(body, "propose", source, path)
            draft = _RuleDraft(accepted={}, proposals=[], fallback=None)
            drafts[code] = draft
        if "accepted" in body:
            accepted = body["accepted"]
            if accepted == ANY_TYPE:
                draft.accepted = None
            elif draft.accepted is not None:
                listed = _string_list(accepted, source, f"{path}.accepted")
                for index, measure_type in enumerate(listed):
                    draft.accepted.setdefault(measure_type, f"{source}: {path}.accepted[{index}]")
        if "propose" in body:
            raw = body["propose"]
            if not isinstance(raw, list) or not raw:
                raise CatalogError(source, f"{path}.propose", "must be a non-empty list")
            parsed: list[tuple[Proposal, str, str]] = []
            for index, raw_item in enumerate(raw):
                item_path = f"{path}.propose[{index}]"
                item = _mapping(raw_item, source, item_path)
                _keys(item, _PROPOSAL_KEYS, source, item_path)
                measure = _string(
                    _required(item, "measure", source, item_path), source, f"{item_path}.measure"
                )
                when = _code(LaborCondition, item.get("when", "any"), source, f"{item_path}.when")
                parsed.append((Proposal(measure, when), source, item_path))
            # a county's proposals take precedence over the baseline's
            draft.proposals[:0] = parsed
        if "fallback" in body:
            if draft.fallback is not None:
                raise CatalogError(source, f"{path}.fallback", "already defined")
            key = _string(body["fallback"], source, f"{path}.fallback")
            draft.fallback = (key, source, f"{path}.fallback")

    def _apply_defaults(self, defaults: dict[str, Any], source: str) -> None:
        _keys(defaults, {"developmental", "safety_net"}, source, "defaults")
        if "developmental" in defaults:
            slots = _mapping(defaults["developmental"], source, "defaults.developmental")
            _keys(slots, set(_LABOR_DEFAULT_KEYS), source, "defaults.developmental")
            for slot, key in slots.items():
                path = f"defaults.developmental.{slot}"
                self.defaults[f"developmental.{slot}"] = (_string(key, source, path), source, path)
        if "safety_net" in defaults:
            slots = _mapping(defaults["safety_net"], source, "defaults.safety_net")
            for slot, key in slots.items():
                path = f"defaults.safety_net.{slot}"
                _code(SafetyNet, slot, source, path)
                self.defaults[f"safety_net.{slot}"] = (_string(key, source, path), source, path)

    def finish(self) -> Catalog:
        measure_types = {
            code: MeasureType(
                code=draft.code,
                name_zh=draft.name_zh,
                lead_departments=tuple(draft.lead_departments),
                developmental=draft.developmental,
                safety_net=draft.safety_net,
                sub_measures=MappingProxyType(dict(draft.sub_measures)),
            )
            for code, draft in self.types.items()
        }
        partial = Catalog(
            measure_types=MappingProxyType(measure_types),
            risks=MappingProxyType({}),
            guarantees=MappingProxyType({}),
            developmental_for_full_labor="",
            developmental_for_partial_labor="",
            safety_net_by_status=MappingProxyType({}),
        )
        risks = {
            RiskType(code): self._rule(partial, f"risks.{code}", draft)
            for code, draft in self.rules["risks"].items()
        }
        guarantees = {
            Referral(code): self._rule(partial, f"guarantees.{code}", draft)
            for code, draft in self.rules["guarantees"].items()
        }
        source = self.sources[0]
        missing = [f"risks.{code}" for code in RiskType if code not in risks] + [
            f"guarantees.{code}" for code in Referral if code not in guarantees
        ]
        if missing:
            raise CatalogError(source, missing[0], "missing")
        developmental = {}
        for slot in _LABOR_DEFAULT_KEYS:
            entry = self.defaults.get(f"developmental.{slot}")
            if entry is None:
                raise CatalogError(source, f"defaults.developmental.{slot}", "missing")
            sub = self._resolve(partial, *entry)
            if not sub.developmental:
                raise CatalogError(entry[1], entry[2], f"{sub.key} is not developmental")
            developmental[slot] = sub.key
        safety_net: dict[SafetyNet, str] = {}
        for status in SafetyNet:
            entry = self.defaults.get(f"safety_net.{status}")
            if entry is None:
                raise CatalogError(source, f"defaults.safety_net.{status}", "missing")
            sub = self._resolve(partial, *entry)
            if not sub.safety_net:
                raise CatalogError(entry[1], entry[2], f"{sub.key} is not a safety-net measure")
            safety_net[status] = sub.key
        return Catalog(
            measure_types=partial.measure_types,
            risks=MappingProxyType(risks),
            guarantees=MappingProxyType(guarantees),
            developmental_for_full_labor=developmental["full"],
            developmental_for_partial_labor=developmental["partial"],
            safety_net_by_status=MappingProxyType(safety_net),
            sources=tuple(self.sources),
        )

    @staticmethod
    def _resolve(catalog: Catalog, key: str, source: str, path: str) -> SubMeasure:
        try:
            return catalog.sub_measure(key)
        except KeyError:
            raise CatalogError(source, path, f"unknown measure {key!r}") from None

    def _rule(self, catalog: Catalog, path: str, draft: _RuleDraft) -> CoverageRule:
        code = path.partition(".")[2]
        if draft.accepted is not None:
            for measure_type, origin in draft.accepted.items():
                if measure_type not in catalog.measure_types:
                    source, _, path = origin.partition(": ")
                    raise CatalogError(source, path, f"unknown measure type {measure_type!r}")
        proposals: list[Proposal] = []
        household_level: set[LaborCondition] = set()
        for proposal, source, entry_path in draft.proposals:
            sub = self._resolve(catalog, proposal.measure, source, f"{entry_path}.measure")
            if draft.accepted is not None and sub.measure_type not in draft.accepted:
                raise CatalogError(
                    source,
                    f"{entry_path}.measure",
                    f"{sub.key} does not cover {code}: {sub.measure_type} is not accepted",
                )
            if not sub.school_stages:
                household_level.add(proposal.when)
            proposals.append(proposal)
        fallback = None
        if draft.fallback is not None:
            sub = self._resolve(catalog, *draft.fallback)
            if draft.accepted is not None and sub.measure_type not in draft.accepted:
                raise CatalogError(
                    draft.fallback[1], draft.fallback[2], f"{sub.key} does not cover {code}"
                )
            fallback = sub.key
        for situation in (LaborCondition.LABOR, LaborCondition.NO_LABOR):
            if fallback is None and not household_level & {situation, LaborCondition.ANY}:
                raise CatalogError(
                    draft.proposals[0][1] if draft.proposals else self.sources[0],
                    path,
                    f"no proposal applies to a {situation} household and there is no fallback",
                )
        return CoverageRule(
            code=code,
            accepted=None if draft.accepted is None else frozenset(draft.accepted),
            proposals=tuple(proposals),
            fallback=fallback,
        )
