"""Screening rules of DOMAIN.md section 3: each a function over columns giving hits and values."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final, Literal, cast

import numpy as np

from .codes import NON_COMPULSORY_STAGES
from .parameters import ScreeningParameters
from .population import EMPLOYMENT, HUKOU, ILLNESS, LABOR, SCHOOL, Population

Value = np.ndarray | int | float | bool | str
RuleKind = Literal["income", "category", "exclusion", "risk", "guarantee"]


@dataclass(frozen=True)
class RuleContext:
    """Parameters in force plus the dates they imply for one as-of date.

    `window_start`: first day of the income window, which ends on the as-of date (included).
    `school_age_born_from` / `school_age_born_until`: birth dates of members aged from the
    compulsory-school minimum to maximum (both included) on the as-of date.
    """

    params: ScreeningParameters
    as_of: date
    window_start: date = field(init=False)
    school_age_born_from: date = field(init=False)
    school_age_born_until: date = field(init=False)

    def __post_init__(self) -> None:
        p = self.params
        start = self.as_of - timedelta(days=p.income_window_days - 1)
        oldest = _years_before(self.as_of, p.compulsory_school_age_max + 1) + timedelta(1)
        youngest = _years_before(self.as_of, p.compulsory_school_age_min)
        object.__setattr__(self, "window_start", start)
        object.__setattr__(self, "school_age_born_from", oldest)
        object.__setattr__(self, "school_age_born_until", youngest)


def _years_before(day: date, years: int) -> date:
    """Same calendar day `years` earlier; 29 February falls back to 28 February."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class RuleOutcome:
    """Per household: whether the rule hit, and the values it used (arrays or constants)."""

    hit: np.ndarray
    values: dict[str, Value]


RuleFunction = Callable[[Population, RuleContext, Mapping[str, RuleOutcome]], RuleOutcome]


@dataclass(frozen=True)
class Rule:
    """A named rule; `code` is the category, exclusion, risk type or referral it decides."""

    name: str
    kind: RuleKind
    code: str | None
    evaluate: RuleFunction


RULES: list[Rule] = []
"""Every rule in evaluation order; a rule may read the outcomes of the rules before it."""


def rule(
    name: str, kind: RuleKind, code: str | None = None
) -> Callable[[RuleFunction], RuleFunction]:
    """Register `fn` as the rule `name`."""

    def register(fn: RuleFunction) -> RuleFunction:
        if any(r.name == name for r in RULES):
            raise ValueError(f"rule {name} registered twice")
        RULES.append(Rule(name=name, kind=kind, code=code, evaluate=fn))
        return fn

    return register


def _fen(amounts: np.ndarray) -> np.ndarray:
    """Round to the fen; `+ 0.0` turns -0.0 into 0.0."""
    return np.round(amounts, 2) + 0.0


def countable_members(pop: Population) -> np.ndarray:
    """Members counted per capita: all but urban/collective hukou members with urban security."""
    memo = pop.derived.get("countable_members")
    if memo is None:
        p = pop.person
        excluded = (p["hukou"] != HUKOU["rural"]) & p["urban_security"]
        memo = pop.derived["countable_members"] = pop.count_persons(~excluded)
    return cast(np.ndarray, memo)


def gross_income(pop: Population) -> np.ndarray:
    """工资性 + 生产经营性 + 财产性 + 转移性 income."""
    h = pop.household
    return h["wage"] + h["business"] + h["property"] + h["transfer"]


def net_income(pop: Population) -> np.ndarray:
    """Gross income minus production costs (生产经营性支出)."""
    return gross_income(pop) - pop.household["production_costs"]


def rigid_expenses(pop: Population) -> np.ndarray:
    """刚性支出: self-paid medical and schooling costs, disaster loss, accident cost."""
    h = pop.household
    return (
        h["medical_self_paid"] + h["education_self_paid"] + h["disaster_loss"] + h["accident_cost"]
    )


def per_capita_figures(pop: Population) -> tuple[np.ndarray, np.ndarray]:
    """(per_capita, adjusted_per_capita) to the fen.

    A household none of whose members is countable divides by all listed members, so its
    figures stay defined; rule `no_countable_members` keeps it out of scope.
    """
    memo = pop.derived.get("per_capita_figures")
    if memo is None:
        counted = countable_members(pop)
        divisor = np.where(counted > 0, counted, pop.household["members"])
        net = net_income(pop)
        memo = pop.derived["per_capita_figures"] = (
            _fen(net / divisor),
            _fen((net - rigid_expenses(pop)) / divisor),
        )
    return cast(tuple[np.ndarray, np.ndarray], memo)


# -- income and category ------------------------------------------------------------------


@rule("no_countable_members", "income")
def _no_countable_members(
    pop: Population, ctx: RuleContext, _: Mapping[str, RuleOutcome]
) -> RuleOutcome:
    counted = countable_members(pop)
    return RuleOutcome(
        counted == 0, {"members": pop.household["members"], "countable_members": counted}
    )


@rule("income_below_threshold", "income")
def _income_below(pop: Population, ctx: RuleContext, _: Mapping[str, RuleOutcome]) -> RuleOutcome:
    per_capita, _adjusted = per_capita_figures(pop)
    threshold = ctx.params.monitoring_threshold
    return RuleOutcome(per_capita < threshold, {"per_capita": per_capita, "threshold": threshold})


@rule("adjusted_income_below_threshold", "income")
def _adjusted_below(pop: Population, ctx: RuleContext, _: Mapping[str, RuleOutcome]) -> RuleOutcome:
    _per_capita, adjusted = per_capita_figures(pop)
    threshold = ctx.params.monitoring_threshold
    return RuleOutcome(
        adjusted < threshold, {"adjusted_per_capita": adjusted, "threshold": threshold}
    )


def _below(earlier: Mapping[str, RuleOutcome]) -> tuple[np.ndarray, np.ndarray]:
    countable = ~earlier["no_countable_members"].hit
    return (
        earlier["income_below_threshold"].hit & countable,
        earlier["adjusted_income_below_threshold"].hit & countable,
    )


@rule("category.unstable_lifted", "category", "unstable_lifted")
def _unstable_lifted(
    pop: Population, ctx: RuleContext, earlier: Mapping[str, RuleOutcome]
) -> RuleOutcome:
    below, _adjusted = _below(earlier)
    poor = pop.household["formerly_poor"]
    return RuleOutcome(below & poor, {"income_below_threshold": below, "formerly_poor": poor})


@rule("category.marginal", "category", "marginal")
def _marginal(pop: Population, ctx: RuleContext, earlier: Mapping[str, RuleOutcome]) -> RuleOutcome:
    below, _adjusted = _below(earlier)
    poor = pop.household["formerly_poor"]
    return RuleOutcome(below & ~poor, {"income_below_threshold": below, "formerly_poor": poor})


@rule("category.sudden_hardship", "category", "sudden_hardship")
def _sudden_hardship(
    pop: Population, ctx: RuleContext, earlier: Mapping[str, RuleOutcome]
) -> RuleOutcome:
    below, adjusted = _below(earlier)
    return RuleOutcome(
        ~below & adjusted,
        {"income_below_threshold": below, "adjusted_income_below_threshold": adjusted},
    )


# -- exclusions (原则上不予认定) -------------------------------------------------------------


def _any_of(masks: list[np.ndarray]) -> np.ndarray:
    """Element-wise OR of boolean arrays of one length (a new array)."""
    result = masks[0].copy()
    for mask in masks[1:]:
        result |= mask
    return result


def _member_exclusion(
    name: str, code: str, column: str, value_name: str, match: int | None = None
) -> None:
    @rule(name, "exclusion", code)
    def evaluate(pop: Population, ctx: RuleContext, _: Mapping[str, RuleOutcome]) -> RuleOutcome:
        values = pop.person[column]
        count = pop.count_persons(values == match if match is not None else values)
        return RuleOutcome(count > 0, {value_name: count})


def _flag_exclusion(code: str, *columns: str) -> None:
    @rule(f"exclusion.{code}", "exclusion", code)
    def evaluate(pop: Population, ctx: RuleContext, _: Mapping[str, RuleOutcome]) -> RuleOutcome:
        flags = {column: pop.household[column] for column in columns}
        return RuleOutcome(_any_of(list(flags.values())), flags)


_member_exclusion(
    "exclusion.public_employee",
    "public_employee",
    "employment",
    "public_employee_members",
    EMPLOYMENT["public_employee"],
)
_member_exclusion(
    "exclusion.village_leader", "village_leader", "village_leader", "village_leader_members"
)
_flag_exclusion("business_owner", "business_registered")
_flag_exclusion("town_property", "town_property")
_flag_exclusion("vehicle_machinery", "vehicle", "machinery")
_flag_exclusion("financial_assets", "financial_assets")
_member_exclusion(
    "exclusion.high_fee_schooling",
    "high_fee_schooling",
    "high_fee_school",
    "high_fee_school_members",
)
for _code in (
    "supporters_able",
    "illegal_conduct",
    "unwilling_to_work",
    "refused_asset_check",
    "absent_over_year",
):
    _flag_exclusion(_code, _code)


# -- risk types (返贫致贫风险类型) ------------------------------------------------------------


@rule("risk.illness", "risk", "illness")
def _illness(pop: Population, ctx: RuleContext, _: Mapping[str, RuleOutcome]) -> RuleOutcome:
    ill = pop.count_persons(pop.person["illness"] != ILLNESS["none"])
    events = pop.count_events("serious_illness", ctx.window_start, ctx.as_of)
    medical = pop.household["medical_self_paid"]
    alert = ctx.params.medical_alert
    return RuleOutcome(
        (ill > 0) | (events > 0) | (medical >= alert),
        {
            "ill_members": ill,
            "serious_illness_events": events,
            "medical_self_paid": medical,
            "medical_alert": alert,
            "window_start": ctx.window_start.isoformat(),
        },
    )


@rule("risk.disability", "risk", "disability")
def _disability(pop: Population, ctx: RuleContext, _: Mapping[str, RuleOutcome]) -> RuleOutcome:
    grade = pop.person["disability_grade"]
    top = ctx.params.severe_disability_max_grade
    severe = pop.count_persons((grade >= 1) & (grade <= top))
    return RuleOutcome(
        severe > 0, {"severe_disability_members": severe, "severe_disability_max_grade": top}
    )


_NON_COMPULSORY: Final = np.isin(np.arange(len(SCHOOL)), [SCHOOL[s] for s in NON_COMPULSORY_STAGES])


@rule("risk.education", "risk", "education")
def _education(pop: Population, ctx: RuleContext, _: Mapping[str, RuleOutcome]) -> RuleOutcome:
    students = pop.count_persons(_NON_COMPULSORY[pop.person["school_stage"]])
    paid = pop.household["education_self_paid"]
    p = ctx.params
    return RuleOutcome(
        (students >= p.education_students_alert) | (paid >= p.education_alert),
        {
            "non_compulsory_students": students,
            "education_students_alert": p.education_students_alert,
            "education_self_paid": paid,
            "education_alert": p.education_alert,
        },
    )


def _event_risk(code: str) -> None:
    @rule(f"risk.{code}", "risk", code)
    def evaluate(pop: Population, ctx: RuleContext, _: Mapping[str, RuleOutcome]) -> RuleOutcome:
        events = pop.count_events(code, ctx.window_start, ctx.as_of)
        return RuleOutcome(
            events > 0, {f"{code}_events": events, "window_start": ctx.window_start.isoformat()}
        )


for _code in ("disaster", "accident", "industry_failure"):
    _event_risk(_code)


@rule("risk.unstable_employment", "risk", "unstable_employment")
def _unstable_employment(
    pop: Population, ctx: RuleContext, _: Mapping[str, RuleOutcome]
) -> RuleOutcome:
    job_loss = pop.count_events("job_loss", ctx.window_start, ctx.as_of)
    gross = gross_income(pop)
    wage = pop.household["wage"]
    share = np.divide(wage, gross, out=np.zeros_like(gross), where=gross > 0)
    migrants = pop.count_persons(pop.person["employment"] == EMPLOYMENT["migrant_unstable"])
    wage_dependent = (gross > 0) & (share >= ctx.params.wage_share) & (migrants > 0)
    return RuleOutcome(
        (job_loss > 0) | wage_dependent,
        {
            "job_loss_events": job_loss,
            "window_start": ctx.window_start.isoformat(),
            "gross_income": gross,
            "wage": wage,
            "wage_share": ctx.params.wage_share,
            "migrant_unstable_members": migrants,
        },
    )


@rule("risk.labor_shortage", "risk", "labor_shortage")
def _labor_shortage(pop: Population, ctx: RuleContext, _: Mapping[str, RuleOutcome]) -> RuleOutcome:
    full = pop.count_persons(pop.person["labor_capacity"] == LABOR["full"])
    return RuleOutcome(full == 0, {"full_labor_members": full})


@rule("risk.housing", "risk", "housing")
def _housing_risk(pop: Population, ctx: RuleContext, _: Mapping[str, RuleOutcome]) -> RuleOutcome:
    safe = pop.household["housing_safe"]
    return RuleOutcome(~safe, {"housing_safe": safe})


@rule("risk.drinking_water", "risk", "drinking_water")
def _water_risk(pop: Population, ctx: RuleContext, _: Mapping[str, RuleOutcome]) -> RuleOutcome:
    safe = pop.household["drinking_water_safe"]
    return RuleOutcome(~safe, {"drinking_water_safe": safe})


def in_scope_of(earlier: Mapping[str, RuleOutcome]) -> np.ndarray:
    """In scope: one of the category rules hit."""
    return _any_of([o.hit for name, o in earlier.items() if name.startswith("category.")])


@rule("risk.other", "risk", "other")
def _other(pop: Population, ctx: RuleContext, earlier: Mapping[str, RuleOutcome]) -> RuleOutcome:
    in_scope = in_scope_of(earlier)
    risk_hits = [o.hit for name, o in earlier.items() if name.startswith("risk.")]
    detected = np.concatenate(risk_hits).reshape(len(risk_hits), pop.n).sum(axis=0)
    return RuleOutcome(
        in_scope & (detected == 0), {"in_scope": in_scope, "risk_types_detected": detected}
    )


# -- guarantees (三保障 + 饮水), referred when not in scope -------------------------------------


@rule("guarantee.compulsory_education", "guarantee", "compulsory_education")
def _compulsory_education(
    pop: Population, ctx: RuleContext, _: Mapping[str, RuleOutcome]
) -> RuleOutcome:
    born = pop.person["birth_date"]
    school_age = (born >= ctx.school_age_born_from.toordinal()) & (
        born <= ctx.school_age_born_until.toordinal()
    )
    dropouts = pop.count_persons(school_age & pop.person["out_of_school"])
    return RuleOutcome(
        dropouts > 0,
        {
            "out_of_school_members_of_school_age": dropouts,
            "compulsory_school_age_min": ctx.params.compulsory_school_age_min,
            "compulsory_school_age_max": ctx.params.compulsory_school_age_max,
        },
    )


@rule("guarantee.medical_insurance", "guarantee", "medical_insurance")
def _medical_insurance(
    pop: Population, ctx: RuleContext, _: Mapping[str, RuleOutcome]
) -> RuleOutcome:
    uninsured = pop.count_persons(~pop.person["medical_insured"])
    return RuleOutcome(uninsured > 0, {"uninsured_members": uninsured})


@rule("guarantee.housing", "guarantee", "housing")
def _housing(pop: Population, ctx: RuleContext, _: Mapping[str, RuleOutcome]) -> RuleOutcome:
    safe = pop.household["housing_safe"]
    return RuleOutcome(~safe, {"housing_safe": safe})


@rule("guarantee.drinking_water", "guarantee", "drinking_water")
def _water(pop: Population, ctx: RuleContext, _: Mapping[str, RuleOutcome]) -> RuleOutcome:
    safe = pop.household["drinking_water_safe"]
    return RuleOutcome(~safe, {"drinking_water_safe": safe})


def evaluate_rules(pop: Population, ctx: RuleContext) -> dict[str, RuleOutcome]:
    """Run every rule over the population, in order."""
    outcomes: dict[str, RuleOutcome] = {}
    for r in RULES:
        outcomes[r.name] = r.evaluate(pop, ctx, outcomes)
    return outcomes


RULE_NAMES: Final = tuple(r.name for r in RULES)
