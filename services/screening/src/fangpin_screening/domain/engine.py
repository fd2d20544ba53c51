"""Screening engine: one columnar evaluation for a batch or a single household, with its trace."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any, Final

import numpy as np

from fangpin_contracts.household import Household, RecordError
from fangpin_kit.parameters import Section

from .codes import CATEGORIES, EXCLUSIONS, REFERRALS, RISK_TYPES
from .fastpath import join_lines
from .parameters import ScreeningParameters
from .population import Population, population_of
from .rules import RULES, RuleContext, RuleOutcome, evaluate_rules, per_capita_figures
from .trace import TraceEntry, render_columns, trace_of

_RISK_RULES: Final = [r for r in RULES if r.kind == "risk"]
_EXCLUSION_RULES: Final = [r for r in RULES if r.kind == "exclusion"]
_GUARANTEE_RULES: Final = [r for r in RULES if r.kind == "guarantee"]
_CATEGORY_RULES: Final = [r for r in RULES if r.kind == "category"]
_TEMPLATE_CACHE_LIMIT: Final = 200_000
_CATEGORY_INDEX: Final = np.array([CATEGORIES.index(str(r.code)) for r in _CATEGORY_RULES])


def _sorted_codes(rules: Sequence[Any], known: Sequence[str]) -> list[str]:
    codes = [r.code for r in rules]
    assert set(codes) <= set(known), "every rule decides a code of DOMAIN.md"
    return sorted(codes)


@dataclass(frozen=True, eq=False)
class CompiledRuleset:
    """Parameters in force on one as-of date for one scope, ready to decide households."""

    ruleset_id: str
    as_of: date
    province: str | None
    params: ScreeningParameters
    templates: dict[object, Any] = field(default_factory=dict, repr=False)
    context: RuleContext = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "context", RuleContext(self.params, self.as_of))


def compile_ruleset(section: Section, as_of: date, province: str | None = None) -> CompiledRuleset:
    """Resolve the screening section on `as_of` (province overrides if that province has any)."""
    resolved = section.resolve(as_of, province)
    return CompiledRuleset(
        ruleset_id=resolved.ruleset_id,
        as_of=as_of,
        province=resolved.province,
        params=ScreeningParameters.from_mapping(resolved),
    )


@dataclass(frozen=True)
class Decision:
    """识别研判结论 for one household: the CONTRACT section 3 decision line."""

    household_id: str
    as_of: date
    ruleset: str
    in_scope: bool
    eligible: bool
    category: str | None
    risk_types: tuple[str, ...]
    excluded_by: tuple[str, ...]
    needs_appraisal: bool
    referrals: tuple[str, ...]
    per_capita: float
    adjusted_per_capita: float
    threshold: float
    trace: tuple[TraceEntry, ...]

    def hit(self, rule_name: str) -> bool:
        """Whether rule `rule_name` hit for this household."""
        return next(e.hit for e in self.trace if e.rule == rule_name)

    def to_dict(self) -> dict[str, Any]:
        """The decision line as JSON-ready builtins, keys in contract order."""
        return {
            "household_id": self.household_id,
            "as_of": self.as_of.isoformat(),
            "ruleset": self.ruleset,
            "in_scope": self.in_scope,
            "eligible": self.eligible,
            "category": self.category,
            "risk_types": list(self.risk_types),
            "excluded_by": list(self.excluded_by),
            "needs_appraisal": self.needs_appraisal,
            "referrals": list(self.referrals),
            "per_capita": self.per_capita,
            "adjusted_per_capita": self.adjusted_per_capita,
            "threshold": self.threshold,
            "trace": [e.to_dict() for e in self.trace],
        }


@dataclass(frozen=True, eq=False)
class BatchDecisions:
    """Decisions of a batch as columns; `decision(i)` and `render_lines()` read the same arrays."""

    ruleset: CompiledRuleset
    population: Population
    outcomes: dict[str, RuleOutcome]
    per_capita: np.ndarray
    adjusted_per_capita: np.ndarray
    in_scope: np.ndarray
    category: np.ndarray  # index into CATEGORIES, -1 when not in scope
    excluded: np.ndarray  # (n, exclusions) in _EXCLUSION_RULES order
    risks: np.ndarray  # (n, risk rules), only for households in scope
    referred: np.ndarray  # (n, guarantees), only for households not in scope
    invalid: np.ndarray  # figures not finite (amounts too large): rejected, not decided
    eligible: np.ndarray  # in scope and no exclusion applies
    needs_appraisal: np.ndarray  # in scope but excluded in principle: the village appraisal decides

    def __len__(self) -> int:
        return self.population.n

    def error(self, i: int) -> RecordError | None:
        """Why household `i` could not be decided, if it could not."""
        if self.invalid[i]:
            return RecordError("income", "amounts too large to compute per-capita figures")
        return None

    def decision(self, i: int) -> Decision:
        """The decision of household `i` as Python objects."""
        return self._decision(i, self.per_capita[i].item(), self.adjusted_per_capita[i].item())

    def _decision(self, i: int, per_capita: Any, adjusted: Any, floats: Any = None) -> Decision:
        category = int(self.category[i])
        return Decision(
            household_id=self.population.household_id[i],
            as_of=self.ruleset.as_of,
            ruleset=self.ruleset.ruleset_id,
            in_scope=bool(self.in_scope[i]),
            eligible=bool(self.eligible[i]),
            category=CATEGORIES[category] if category >= 0 else None,
            risk_types=_codes_where(self.risks[i], _RISK_RULES),
            excluded_by=_codes_where(self.excluded[i], _EXCLUSION_RULES),
            needs_appraisal=bool(self.needs_appraisal[i]),
            referrals=_codes_where(self.referred[i], _GUARANTEE_RULES),
            per_capita=per_capita,
            adjusted_per_capita=adjusted,
            threshold=self.ruleset.params.monitoring_threshold,
            trace=trace_of(self.outcomes, i, floats) if floats else self._trace_at(i),
        )

    @cached_property
    def _rows(self) -> list[tuple[str, list[bool], dict[str, Any]]]:
        """Rule outcomes as Python lists, built once so each decision only indexes them."""
        return [
            (
                name,
                outcome.hit.tolist(),
                {
                    k: v.tolist() if isinstance(v, np.ndarray) else v
                    for k, v in outcome.values.items()
                },
            )
            for name, outcome in self.outcomes.items()
        ]

    def _trace_at(self, i: int) -> tuple[TraceEntry, ...]:
        return tuple(
            TraceEntry(
                rule=name,
                hit=hits[i],
                values={k: v[i] if isinstance(v, list) else v for k, v in values.items()},
            )
            for name, hits, values in self._rows
        )

    def decisions(self) -> list[Decision]:
        """Every decision of the batch (invalid households excluded by the caller)."""
        return [self.decision(i) for i in range(len(self))]

    def render_lines(self) -> list[str]:
        """Decision lines as JSON text, equal to encoding `decision(i).to_dict()`.

        Invalid households yield an empty string.
        """
        if not len(self):
            return []
        order = np.arange(len(self))
        order[self.invalid] = -1
        return self.render(order, [b"\n"]).decode("utf-8").split("\n")[:-1]

    def render(self, order: np.ndarray | None = None, extra: Sequence[bytes] = ()) -> bytes:
        """Decision lines as UTF-8, each ending in a newline: line i for household i, or the
        lines `order` lists (a negative value -k stands for `extra[k - 1]`, e.g. a rejection).

        Households sharing every discrete value (hits, counts, flags) share one template per
        part of the line, rendered once from `decision(i)` with placeholders, so only the
        household id and the amounts are formatted per line; C assembles the lines (Python
        without the extension, see `fastpath`).
        """
        columns = render_columns(self, self.ruleset.templates, _TEMPLATE_CACHE_LIMIT)
        return join_lines(columns, len(self), order, extra)

    def discrete_columns(self) -> list[np.ndarray]:
        """Every non-float array a decision line depends on (the template key)."""
        columns = [self.in_scope, self.category, self.excluded, self.risks, self.referred]
        for outcome in self.outcomes.values():
            columns.append(outcome.hit)
            columns.extend(
                v
                for v in outcome.values.values()
                if isinstance(v, np.ndarray) and v.dtype.kind in "bi"
            )
        return columns

    def float_columns(self) -> list[np.ndarray]:
        """Distinct float arrays a decision line prints (top-level figures first)."""
        columns: list[np.ndarray] = [self.per_capita, self.adjusted_per_capita]
        for outcome in self.outcomes.values():
            for v in outcome.values.values():
                if isinstance(v, np.ndarray) and v.dtype.kind == "f" and not _contains(columns, v):
                    columns.append(v)
        return columns


def _contains(columns: list[np.ndarray], array: np.ndarray) -> bool:
    return any(c is array for c in columns)


def _codes_where(mask: np.ndarray, rules: Sequence[Any]) -> tuple[str, ...]:
    return tuple(sorted(rules[k].code for k in np.flatnonzero(mask).tolist()))


def decide_batch(households: Sequence[Household], ruleset: CompiledRuleset) -> BatchDecisions:
    """Decide a batch of households in one columnar evaluation."""
    return decide_population(population_of(households), ruleset)


def decide_population(population: Population, ruleset: CompiledRuleset) -> BatchDecisions:
    """Decide the households of `population` (columns already built) in one evaluation."""
    # absurd amounts overflow to inf; such households are marked invalid below, not decided
    with np.errstate(over="ignore", invalid="ignore"):
        outcomes = evaluate_rules(population, ruleset.context)
        per_capita, adjusted = per_capita_figures(population)
    n = population.n
    category_hits = _matrix(outcomes, _CATEGORY_RULES, n)
    in_scope = category_hits.any(axis=1)
    category = np.where(in_scope, _CATEGORY_INDEX[np.argmax(category_hits, axis=1)], -1)
    excluded = _matrix(outcomes, _EXCLUSION_RULES, n)
    risks = _matrix(outcomes, _RISK_RULES, n) & in_scope[:, None]
    referred = _matrix(outcomes, _GUARANTEE_RULES, n) & ~in_scope[:, None]
    floats = [per_capita, adjusted] + [
        v
        for outcome in outcomes.values()
        for v in outcome.values.values()
        if isinstance(v, np.ndarray) and v.dtype.kind == "f"
    ]
    invalid = ~np.isfinite(np.concatenate(floats)).reshape(len(floats), n).all(axis=0)
    any_exclusion = excluded.any(axis=1)
    return BatchDecisions(
        ruleset=ruleset,
        population=population,
        outcomes=outcomes,
        per_capita=per_capita,
        adjusted_per_capita=adjusted,
        in_scope=in_scope,
        category=category,
        excluded=excluded,
        risks=risks,
        referred=referred,
        invalid=invalid,
        eligible=in_scope & ~any_exclusion,
        needs_appraisal=in_scope & any_exclusion,
    )


def _matrix(outcomes: dict[str, RuleOutcome], rules: Sequence[Any], n: int) -> np.ndarray:
    """(n, rules) hits; one C-level concatenation (column_stack loops over the arrays)."""
    if not rules:
        return np.zeros((n, 0), dtype=bool)
    return np.concatenate([outcomes[r.name].hit for r in rules]).reshape(len(rules), n).T


def decide(household: Household, ruleset: CompiledRuleset) -> Decision:
    """Decide one household: the batch engine on a batch of one.

    Raises RecordError when its amounts are too large to compute per-capita figures.
    """
    batch = decide_batch([household], ruleset)
    if (error := batch.error(0)) is not None:
        raise error
    return batch.decision(0)


def export_risk_types(decision: Decision, limit: int) -> tuple[str, ...]:
    """Risk types for the national system: at most `limit`, the first ones in table order."""
    ordered = sorted(decision.risk_types, key=RISK_TYPES.index)
    return tuple(ordered[:limit])


assert {r.code for r in _EXCLUSION_RULES} == set(EXCLUSIONS)
assert {r.code for r in _RISK_RULES} == set(RISK_TYPES)
assert {r.code for r in _GUARANTEE_RULES} == set(REFERRALS)
