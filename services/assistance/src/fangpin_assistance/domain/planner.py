"""Propose a household's plan (一户一策) from its risks, guarantees, labor and safety net."""

from dataclasses import dataclass, field

from fangpin_assistance.domain.catalog import (
    Beneficiary,
    Catalog,
    CoverageRule,
    LaborCondition,
    SubMeasure,
)
from fangpin_assistance.domain.codes import RiskType, SafetyNet
from fangpin_assistance.domain.household import HouseholdSummary
from fangpin_assistance.domain.plan import MeasureSpec


@dataclass
class _Proposal:
    specs: dict[tuple[str, str | None], list[str]] = field(default_factory=dict)

    def add(self, sub: SubMeasure, beneficiary: str | None, basis: str) -> None:
        bases = self.specs.setdefault((sub.key, beneficiary), [])
        if basis not in bases:
            bases.append(basis)

    def result(self) -> tuple[MeasureSpec, ...]:
        return tuple(
            MeasureSpec(measure_key=key, beneficiary=beneficiary, basis=tuple(bases))
            for (key, beneficiary), bases in self.specs.items()
        )


def propose_measures(household: HouseholdSummary, catalog: Catalog) -> tuple[MeasureSpec, ...]:
    """The measures the service proposes for a newly identified household.

    缺什么补什么: each risk type and each failed guarantee gets the catalog's proposal for the
    household's labor situation. Then the household rules: a household already on the safety
    net keeps that measure; a whole no-labor household gets a safety-net measure; a household
    with labor (weak and semi included) gets a developmental measure if it has none yet, so
    the proposal is never safety-net only. `basis` says why each measure is there.
    """
    condition = LaborCondition.LABOR if household.has_labor else LaborCondition.NO_LABOR
    proposal = _Proposal()
    risks = sorted(set(household.risk_types), key=list(RiskType).index)
    for risk in risks:
        _cover(proposal, household, catalog.risks[risk], condition, catalog, f"risk:{risk}")
    for referral in dict.fromkeys(household.referrals):
        rule = catalog.guarantees[referral]
        _cover(proposal, household, rule, condition, catalog, f"guarantee:{referral}")

    if household.safety_net is not SafetyNet.NONE:
        sub = catalog.sub_measure(catalog.safety_net_by_status[household.safety_net])
        proposal.add(sub, None, f"safety_net:{household.safety_net}")
    elif household.whole_no_labor and not _any(proposal, catalog, safety_net=True):
        sub = catalog.sub_measure(catalog.safety_net_by_status[SafetyNet.NONE])
        proposal.add(sub, None, "rule:whole_no_labor")

    if household.has_labor and not _any(proposal, catalog, developmental=True):
        key = (
            catalog.developmental_for_full_labor
            if household.has_full_labor
            else catalog.developmental_for_partial_labor
        )
        sub = catalog.sub_measure(key)
        proposal.add(sub, _worker(household, sub), "rule:developmental_required")
    return proposal.result()


def _cover(
    proposal: _Proposal,
    household: HouseholdSummary,
    rule: CoverageRule,
    condition: LaborCondition,
    catalog: Catalog,
    basis: str,
) -> None:
    produced = False
    schooled: set[str] = set()
    for entry in rule.proposals:
        if entry.when not in (LaborCondition.ANY, condition):
            continue
        sub = catalog.sub_measure(entry.measure)
        if sub.school_stages:
            for member in household.members:
                if member.school_stage in sub.school_stages and member.member_ref not in schooled:
                    schooled.add(member.member_ref)
                    proposal.add(sub, member.member_ref, basis)
                    produced = True
        else:
            proposal.add(sub, _worker(household, sub), basis)
            produced = True
    if not produced and rule.fallback is not None:
        sub = catalog.sub_measure(rule.fallback)
        proposal.add(sub, _worker(household, sub), basis)


def _worker(household: HouseholdSummary, sub: SubMeasure) -> str | None:
    """Default beneficiary of a member-level measure: the first member able to work."""
    if sub.beneficiary is not Beneficiary.MEMBER or sub.school_stages:
        return None
    workers = household.workers()
    return workers[0].member_ref if workers else None


def _any(
    proposal: _Proposal, catalog: Catalog, *, safety_net: bool = False, developmental: bool = False
) -> bool:
    for key, _ in proposal.specs:
        sub = catalog.sub_measure(key)
        if (safety_net and sub.safety_net) or (developmental and sub.developmental):
            return True
    return False
