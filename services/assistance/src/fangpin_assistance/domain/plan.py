"""The Plan aggregate (一户一策): one per household, its measures, contact cadres and rules."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from fangpin_assistance.domain.catalog import Catalog, SubMeasure
from fangpin_assistance.domain.codes import MeasureStatus, TermKind
from fangpin_assistance.domain.events import (
    ContactCadreAssigned,
    DomainEvent,
    MeasureContinued,
    PlanAdjusted,
    PlanConfirmed,
    PlanCreated,
    TaskDue,
    TaskKind,
)
from fangpin_assistance.domain.household import HouseholdSummary
from fangpin_assistance.domain.measure import (
    DepartmentReply,
    Measure,
    ReplyOutcome,
    ignore_reply,
)
from fangpin_assistance.domain.parameters import AssistanceParameters
from fangpin_assistance.domain.terms import (
    Continuation,
    TermDecision,
    continuation_after_elimination,
)


class Rule(StrEnum):
    """Plan rules (DOMAIN section 5); a violation is reported by the rule's name."""

    RISK_NOT_COVERED = "risk_not_covered"
    GUARANTEE_NOT_COVERED = "guarantee_not_covered"
    DEVELOPMENTAL_REQUIRED = "developmental_required"
    SAFETY_NET_ONLY_FOR_LABOR_HOUSEHOLD = "safety_net_only_for_labor_household"
    SAFETY_NET_REQUIRED = "safety_net_required"
    CONTACT_CADRE_REQUIRED = "contact_cadre_required"


UNWAIVABLE_RULES = frozenset({Rule.SAFETY_NET_ONLY_FOR_LABOR_HOUSEHOLD})
"""一兜了之 is a defect no recorded reason can justify."""

_RULE_NAMES = frozenset(rule.value for rule in Rule)


@dataclass(frozen=True)
class RuleViolation:
    """A broken plan rule, e.g. `risk_not_covered:illness`."""

    rule: Rule
    subject: str | None = None

    @property
    def name(self) -> str:
        """The rule name, with its subject when it has one."""
        return self.rule.value if self.subject is None else f"{self.rule.value}:{self.subject}"

    def __str__(self) -> str:
        return self.name


class PlanRulesViolated(ValueError):
    """A change refused because it breaks plan rules; lists every violation by name."""

    def __init__(self, violations: Sequence[RuleViolation]) -> None:
        self.violations = tuple(violations)
        super().__init__("plan rules violated: " + ", ".join(v.name for v in self.violations))


class PlanError(ValueError):
    """A command the plan cannot take in its current state, or a bad measure reference."""


@dataclass(frozen=True)
class MeasureSpec:
    """A measure to put in a plan: catalog key, optional member, why it is there."""

    measure_key: str
    beneficiary: str | None = None
    basis: tuple[str, ...] = ()


@dataclass(frozen=True)
class Waiver:
    """A rule violation a cadre accepted with a recorded reason."""

    violation: str
    reason: str
    by: str
    at: datetime


class PlanStatus(StrEnum):
    """Plan lifecycle: proposed -> active (confirmed, measures out) -> stopped."""

    PROPOSED = "proposed"
    ACTIVE = "active"
    STOPPED = "stopped"


def check_rules(
    household: HouseholdSummary,
    measures: Iterable[SubMeasure],
    contact_cadres: int,
    catalog: Catalog,
    params: AssistanceParameters,
) -> tuple[RuleViolation, ...]:
    """Every plan rule the given counting measures break, in a stable order."""
    subs = list(measures)
    types = {sub.measure_type for sub in subs}
    violations: list[RuleViolation] = []
    for risk in dict.fromkeys(household.risk_types):
        if not any(catalog.risks[risk].accepts(t) for t in types):
            violations.append(RuleViolation(Rule.RISK_NOT_COVERED, risk.value))
    for referral in dict.fromkeys(household.referrals):
        if not any(catalog.guarantees[referral].accepts(t) for t in types):
            violations.append(RuleViolation(Rule.GUARANTEE_NOT_COVERED, referral.value))
    if household.has_labor:
        if not any(sub.developmental for sub in subs):
            violations.append(RuleViolation(Rule.DEVELOPMENTAL_REQUIRED))
        if subs and all(sub.safety_net for sub in subs):
            violations.append(RuleViolation(Rule.SAFETY_NET_ONLY_FOR_LABOR_HOUSEHOLD))
    elif not any(sub.safety_net for sub in subs):
        violations.append(RuleViolation(Rule.SAFETY_NET_REQUIRED))
    if contact_cadres < params.min_contact_cadres:
        violations.append(RuleViolation(Rule.CONTACT_CADRE_REQUIRED))
    return tuple(violations)


class Plan:
    """一户一策 of one household. Commands append their events to `events`."""

    def __init__(
        self,
        plan_id: str,
        household: HouseholdSummary,
        *,
        identified_on: date,
        created_at: datetime,
        due_on: date,
    ) -> None:
        self.plan_id = plan_id
        self.household = household
        self.identified_on = identified_on
        self.created_at = created_at
        self.due_on = due_on
        self.status = PlanStatus.PROPOSED
        self.measures: list[Measure] = []
        self.contact_cadres: list[str] = []
        self.waivers: dict[str, Waiver] = {}
        self.confirmed_at: datetime | None = None
        self.confirmed_by: str | None = None
        self.risk_eliminated_on: date | None = None
        self.stopped_at: datetime | None = None
        self.stop_reason: str | None = None
        self.events: list[DomainEvent] = []
        self.measure_sequence = 0
        """Last measure number used; persist it with the plan so ids stay unique."""

    # -- creation ------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        plan_id: str,
        household: HouseholdSummary,
        specs: Sequence[MeasureSpec],
        *,
        identified_on: date,
        at: datetime,
        catalog: Catalog,
        params: AssistanceParameters,
        contact_cadres: Sequence[str] = (),
    ) -> "Plan":
        """Propose the plan; it is due `plan_due_days` after identification (10天内)."""
        due_on = identified_on + timedelta(days=params.plan_due_days)
        plan = cls(plan_id, household, identified_on=identified_on, created_at=at, due_on=due_on)
        plan.contact_cadres = list(dict.fromkeys(contact_cadres))
        plan.measures = [plan._new_measure(spec, catalog) for spec in specs]
        plan.events.append(
            PlanCreated(
                household_id=household.household_id,
                occurred_at=at,
                plan_id=plan_id,
                county=household.county,
                village=household.village,
                due_on=due_on,
                green_channel=household.green_channel,
                measures=tuple(measure.view() for measure in plan.measures),
                violations=tuple(v.name for v in plan.violations(catalog, params)),
            )
        )
        plan.events.append(
            TaskDue(
                household_id=household.household_id,
                occurred_at=at,
                task_id=f"plan_due:{plan_id}",
                kind=TaskKind.PLAN_DUE,
                due_on=due_on,
                assignees=tuple(plan.contact_cadres),
            )
        )
        return plan

    def _new_measure(self, spec: MeasureSpec, catalog: Catalog) -> Measure:
        try:
            sub = catalog.sub_measure(spec.measure_key)
        except KeyError as error:
            raise PlanError(str(error.args[0])) from None
        stage_end = None
        if spec.beneficiary is not None:
            try:
                member = self.household.member(spec.beneficiary)
            except KeyError as error:
                raise PlanError(str(error.args[0])) from None
            if sub.school_stages and member.school_stage not in sub.school_stages:
                raise PlanError(
                    f"{sub.key}: member {spec.beneficiary} is in school stage "
                    f"{member.school_stage}, not one of {sorted(sub.school_stages)}"
                )
            if sub.term.kind is TermKind.SCHOOL_STAGE_END:
                stage_end = member.school_stage_ends_on
        self.measure_sequence += 1
        return Measure(
            measure_id=f"{self.plan_id}-{self.measure_sequence:03d}",
            plan_id=self.plan_id,
            household_id=self.household.household_id,
            sub_measure=sub,
            beneficiary=spec.beneficiary,
            basis=spec.basis,
            school_stage_ends_on=stage_end,
        )

    # -- queries -------------------------------------------------------------------------

    def measure(self, measure_id: str) -> Measure:
        """The measure with this id; KeyError when the plan has none."""
        for measure in self.measures:
            if measure.measure_id == measure_id:
                return measure
        raise KeyError(measure_id)

    def violations(
        self, catalog: Catalog, params: AssistanceParameters
    ) -> tuple[RuleViolation, ...]:
        """Every rule the plan breaks now, waived ones included."""
        return check_rules(
            self.household,
            (measure.sub_measure for measure in self.measures if measure.counts),
            len(self.contact_cadres),
            catalog,
            params,
        )

    def open_violations(
        self, catalog: Catalog, params: AssistanceParameters
    ) -> tuple[RuleViolation, ...]:
        """Violations no waiver covers."""
        return tuple(v for v in self.violations(catalog, params) if v.name not in self.waivers)

    @property
    def implemented_measures(self) -> tuple[Measure, ...]:
        """Measures delivered or being delivered (落实)."""
        return tuple(measure for measure in self.measures if measure.implemented)

    @property
    def has_implemented_measures(self) -> bool:
        """Whether `assisted` (帮扶消除) is a possible elimination mode."""
        return bool(self.implemented_measures)

    def is_overdue(self, on: date) -> bool:
        """Not confirmed by its due date."""
        return self.status is PlanStatus.PROPOSED and on > self.due_on

    def collect_events(self) -> list[DomainEvent]:
        """Hand the pending events to the unit of work and forget them."""
        events, self.events = self.events, []
        return events

    # -- commands ------------------------------------------------------------------------

    def confirm(
        self,
        by: str,
        at: datetime,
        catalog: Catalog,
        params: AssistanceParameters,
        waivers: Mapping[str, str] | None = None,
    ) -> None:
        """Adopt the plan (制定) and dispatch its measures; refused while rules are broken."""
        if self.status is not PlanStatus.PROPOSED:
            raise PlanError(f"{self.plan_id}: cannot confirm a {self.status} plan")
        new_waivers = self._waivers(waivers or {}, by, at)
        blocking = [
            v
            for v in self.violations(catalog, params)
            if v.name not in self.waivers and v.name not in new_waivers
        ]
        if blocking:
            raise PlanRulesViolated(blocking)
        self.waivers.update(new_waivers)
        self.status = PlanStatus.ACTIVE
        self.confirmed_at, self.confirmed_by = at, by
        self.events.append(
            PlanConfirmed(
                household_id=self.household.household_id,
                occurred_at=at,
                plan_id=self.plan_id,
                confirmed_by=by,
                waived=tuple(sorted(self.waivers)),
            )
        )
        for measure in self.measures:
            if measure.status is MeasureStatus.PROPOSED:
                self.events.extend(measure.dispatch(at, params))

    def adjust(
        self,
        by: str,
        at: datetime,
        reason: str,
        catalog: Catalog,
        params: AssistanceParameters,
        *,
        add: Sequence[MeasureSpec] = (),
        withdraw: Sequence[str] = (),
        waivers: Mapping[str, str] | None = None,
    ) -> tuple[Measure, ...]:
        """Add and withdraw measures; refused when it would break a rule not waived.

        Violations the plan already had do not block an unrelated change. Added measures
        go out at once when the plan is active. Returns the added measures.
        """
        self._require_not_stopped()
        if not reason.strip():
            raise PlanError("an adjustment needs a reason")
        withdrawn = [self._open_measure(measure_id) for measure_id in dict.fromkeys(withdraw)]
        new_waivers = self._waivers(waivers or {}, by, at)
        added_subs = [self._resolve(spec, catalog) for spec in add]
        before = {v.name for v in self.violations(catalog, params)}
        withdrawn_ids = {measure.measure_id for measure in withdrawn}
        kept = (
            measure.sub_measure
            for measure in self.measures
            if measure.counts and measure.measure_id not in withdrawn_ids
        )
        after = check_rules(
            self.household,
            [*kept, *added_subs],
            len(self.contact_cadres),
            catalog,
            params,
        )
        blocking = [
            v
            for v in after
            if v.name not in before and v.name not in self.waivers and v.name not in new_waivers
        ]
        if blocking:
            raise PlanRulesViolated(blocking)
        added = tuple(self._new_measure(spec, catalog) for spec in add)
        self.waivers.update(new_waivers)
        for measure in withdrawn:
            self.events.append(measure.withdraw(at, reason))
        self.measures.extend(added)
        if self.status is PlanStatus.ACTIVE:
            for measure in added:
                self.events.extend(measure.dispatch(at, params))
        self.events.append(
            PlanAdjusted(
                household_id=self.household.household_id,
                occurred_at=at,
                plan_id=self.plan_id,
                adjusted_by=by,
                reason=reason,
                added=tuple(measure.measure_id for measure in added),
                withdrawn=tuple(measure.measure_id for measure in withdrawn),
                violations=tuple(v.name for v in after),
            )
        )
        return added

    def replace_measure(
        self,
        measure_id: str,
        spec: MeasureSpec,
        by: str,
        at: datetime,
        reason: str,
        catalog: Catalog,
        params: AssistanceParameters,
        waivers: Mapping[str, str] | None = None,
    ) -> Measure:
        """Replace a rejected measure, or an unanswered one already escalated as overdue."""
        try:
            old = self.measure(measure_id)
        except KeyError:
            raise PlanError(f"{self.plan_id}: unknown measure {measure_id}") from None
        escalated = old.status is MeasureStatus.DISPATCHED and old.escalated_at is not None
        if old.status is not MeasureStatus.REJECTED and not escalated:
            raise PlanError(f"{measure_id}: only rejected or overdue measures are replaced")
        if old.replaced_by is not None:
            raise PlanError(f"{measure_id}: already replaced by {old.replaced_by}")
        (new,) = self.adjust(
            by,
            at,
            reason,
            catalog,
            params,
            add=[spec],
            withdraw=[measure_id] if escalated else [],
            waivers=waivers,
        )
        new.replaces, old.replaced_by = old.measure_id, new.measure_id
        return new

    def assign_contact_cadre(self, cadre_id: str, at: datetime) -> None:
        """Name a contact cadre (帮扶联系人)."""
        self._require_not_stopped()
        if cadre_id in self.contact_cadres:
            return
        self.contact_cadres.append(cadre_id)
        self.events.append(
            ContactCadreAssigned(
                household_id=self.household.household_id,
                occurred_at=at,
                plan_id=self.plan_id,
                cadre_id=cadre_id,
            )
        )

    def remove_contact_cadre(
        self, cadre_id: str, catalog: Catalog, params: AssistanceParameters
    ) -> None:
        """Remove a contact cadre; refused when the household would have too few."""
        if cadre_id not in self.contact_cadres:
            raise PlanError(f"{self.plan_id}: {cadre_id} is not a contact cadre")
        remaining = len(self.contact_cadres) - 1
        if remaining < params.min_contact_cadres:
            raise PlanRulesViolated([RuleViolation(Rule.CONTACT_CADRE_REQUIRED)])
        self.contact_cadres.remove(cadre_id)

    def apply_reply(self, reply: DepartmentReply, at: datetime) -> ReplyOutcome:
        """Apply a department reply; unknown measures are recorded as ignored, never raised."""
        try:
            measure = self.measure(reply.measure_id)
        except KeyError:
            outcome = ignore_reply(reply, self.household.household_id, at, "unknown_measure")
        else:
            outcome = measure.apply_reply(reply, at)
        self.events.extend(outcome.events)
        return outcome

    def tick(self, at: datetime, params: AssistanceParameters) -> None:
        """Let time pass for every measure (time-outs, starts, terms)."""
        for measure in self.measures:
            self.events.extend(measure.on_clock(at, params))

    def reassess(
        self, household: HouseholdSummary, catalog: Catalog, params: AssistanceParameters
    ) -> tuple[RuleViolation, ...]:
        """Take new household facts (re-screening, rollback 回退); returns what is now broken."""
        if household.household_id != self.household.household_id:
            raise PlanError(f"{self.plan_id}: facts of another household")
        self.household = household
        self.risk_eliminated_on = None
        return self.open_violations(catalog, params)

    def risk_eliminated(self, on: date, at: datetime) -> tuple[TermDecision, ...]:
        """风险消除: measures with a running term continue to its end, the others end."""
        decisions = tuple(continuation_after_elimination(m, on) for m in self.measures)
        for measure, decision in zip(self.measures, decisions, strict=True):
            if decision.continuation is Continuation.ENDS:
                self.events.append(measure.expire(at, f"risk_eliminated:{decision.reason}"))
            elif decision.continuation is Continuation.CONTINUES:
                measure.continues_until = decision.until
                self.events.append(
                    MeasureContinued(
                        household_id=self.household.household_id,
                        occurred_at=at,
                        plan_id=self.plan_id,
                        measure_id=measure.measure_id,
                        measure_key=measure.key,
                        term_kind=measure.sub_measure.term.kind,
                        until=decision.until,
                    )
                )
        self.risk_eliminated_on = on
        return decisions

    def stop(self, at: datetime, reason: str) -> None:
        """Stop assistance (e.g. leaving the green channel 退出绿色通道, 中止帮扶)."""
        self._require_not_stopped()
        for measure in self.measures:
            if not measure.is_closed:
                self.events.append(measure.withdraw(at, reason))
        self.status = PlanStatus.STOPPED
        self.stopped_at, self.stop_reason = at, reason

    # -- helpers -------------------------------------------------------------------------

    def _require_not_stopped(self) -> None:
        if self.status is PlanStatus.STOPPED:
            raise PlanError(f"{self.plan_id}: assistance was stopped")

    def _open_measure(self, measure_id: str) -> Measure:
        try:
            measure = self.measure(measure_id)
        except KeyError:
            raise PlanError(f"{self.plan_id}: unknown measure {measure_id}") from None
        if measure.is_closed:
            raise PlanError(f"{measure_id}: already {measure.status}")
        return measure

    def _resolve(self, spec: MeasureSpec, catalog: Catalog) -> SubMeasure:
        try:
            return catalog.sub_measure(spec.measure_key)
        except KeyError as error:
            raise PlanError(str(error.args[0])) from None

    def _waivers(self, requested: Mapping[str, str], by: str, at: datetime) -> dict[str, Waiver]:
        waivers: dict[str, Waiver] = {}
        for name, reason in requested.items():
            rule = name.partition(":")[0]
            if rule not in _RULE_NAMES:
                raise PlanError(f"cannot waive {name!r}: no such rule")
            if Rule(rule) in UNWAIVABLE_RULES:
                raise PlanError(f"{rule} cannot be waived")
            if not reason.strip():
                raise PlanError(f"waiving {name} needs a reason")
            waivers[name] = Waiver(name, reason, by, at)
        return waivers
