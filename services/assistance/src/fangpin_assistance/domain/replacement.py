"""Proposing a replacement for a rejected measure: 缺什么补什么 again, without what was refused."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fangpin_assistance.domain.catalog import (
    Beneficiary,
    Catalog,
    CoverageRule,
    LaborCondition,
    SubMeasure,
)
from fangpin_assistance.domain.codes import MeasureStatus, Referral, RiskType
from fangpin_assistance.domain.household import HouseholdSummary
from fangpin_assistance.domain.measure import Measure
from fangpin_assistance.domain.plan import MeasureSpec, Plan


@dataclass(frozen=True)
class ReplacementProposal:
    """What the service proposes in place of a rejected measure; `measure_key` None means the
    catalog offers nothing the plan has not tried, so the cadre must choose."""

    measure_id: str
    measure_key: str | None
    beneficiary: str | None
    basis: tuple[str, ...]

    def spec(self) -> MeasureSpec | None:
        """The proposal as a measure to put in the plan."""
        if self.measure_key is None:
            return None
        return MeasureSpec(self.measure_key, self.beneficiary, self.basis)


def propose_replacement(plan: Plan, measure_id: str, catalog: Catalog) -> ReplacementProposal:
    """The first catalog measure that covers the same need (the rejected measure's `basis`).

    Candidates come from the coverage rule of each basis (its proposals, fallback, then
    every sub-measure of an accepted type), then the other sub-measures of the same type.
    A measure some department of this plan already rejected is never proposed again, nor
    one the plan already holds for the same beneficiary, nor a developmental measure for a
    household without labor.
    """
    rejected = plan.measure(measure_id)
    household = plan.household
    refused = {m.key for m in plan.measures if m.status is MeasureStatus.REJECTED}
    held = {(m.key, m.beneficiary) for m in plan.measures if m.counts}
    for sub in dict.fromkeys(_candidates(rejected, household, catalog)):
        if sub.key == rejected.key or sub.key in refused:
            continue
        if sub.developmental and not household.has_labor:
            continue
        beneficiary = _beneficiary(sub, rejected, household)
        if beneficiary is _NOBODY:
            continue
        if (sub.key, beneficiary) in held:
            continue
        return ReplacementProposal(measure_id, sub.key, beneficiary, rejected.basis)
    return ReplacementProposal(measure_id, None, None, rejected.basis)


_NOBODY = "\x00nobody"
"""No member fits a member-level measure (school stage), so it cannot be proposed."""


def _candidates(
    rejected: Measure, household: HouseholdSummary, catalog: Catalog
) -> Iterator[SubMeasure]:
    condition = LaborCondition.LABOR if household.has_labor else LaborCondition.NO_LABOR
    for basis in rejected.basis:
        kind, _, code = basis.partition(":")
        rule = _rule(catalog, kind, code)
        if rule is not None:
            yield from _covering(rule, condition, catalog)
        elif basis == "rule:developmental_required":
            yield catalog.sub_measure(catalog.developmental_for_full_labor)
            yield catalog.sub_measure(catalog.developmental_for_partial_labor)
            yield from _all(catalog, lambda sub: sub.developmental)
        elif kind == "safety_net" or basis == "rule:whole_no_labor":
            yield from _all(catalog, lambda sub: sub.safety_net)
    yield from catalog.measure_types[rejected.sub_measure.measure_type].sub_measures.values()


def _rule(catalog: Catalog, kind: str, code: str) -> CoverageRule | None:
    if kind == "risk" and code in {risk.value for risk in RiskType}:
        return catalog.risks.get(RiskType(code))
    if kind == "guarantee" and code in {referral.value for referral in Referral}:
        return catalog.guarantees.get(Referral(code))
    return None


def _covering(
    rule: CoverageRule, condition: LaborCondition, catalog: Catalog
) -> Iterator[SubMeasure]:
    for proposal in rule.proposals:
        if proposal.when in (LaborCondition.ANY, condition):
            yield catalog.sub_measure(proposal.measure)
    if rule.fallback is not None:
        yield catalog.sub_measure(rule.fallback)
    if rule.accepted is not None:
        yield from _all(catalog, lambda sub: rule.accepts(sub.measure_type))


def _all(catalog: Catalog, wanted: Callable[[SubMeasure], bool]) -> Iterator[SubMeasure]:
    """Sub-measures in catalog order (stable proposals) that satisfy `wanted`."""
    for measure_type in catalog.measure_types.values():
        for sub in measure_type.sub_measures.values():
            if wanted(sub):
                yield sub


def _beneficiary(sub: SubMeasure, rejected: Measure, household: HouseholdSummary) -> str | None:
    if sub.school_stages:
        ordered = list(household.members)
        if rejected.beneficiary is not None:
            ordered.sort(key=lambda m: m.member_ref != rejected.beneficiary)
        for member in ordered:
            if member.school_stage in sub.school_stages:
                return member.member_ref
        return _NOBODY
    if sub.beneficiary is not Beneficiary.MEMBER:
        return None
    if rejected.beneficiary is not None:
        current = household.member(rejected.beneficiary)
        if current.can_work or not sub.developmental:
            return current.member_ref
    workers = household.workers()
    return workers[0].member_ref if workers else None
