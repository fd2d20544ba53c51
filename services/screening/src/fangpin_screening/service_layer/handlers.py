"""Screening's use cases: decide on clues, follow monitoring, income and measures, check
risk elimination (风险消除) and roll-back (回退)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Protocol

import msgspec

from fangpin_contracts.cloudevents import CloudEvent, new_event
from fangpin_contracts.events import (
    CaseEvent,
    ClueAccepted,
    IncomeRecorded,
    MeasureDispatched,
    MeasureReply,
    Region,
    ScreeningDecided,
)
from fangpin_contracts.household import (
    Household,
    RecordError,
    household_to_dict,
    validate_household,
)
from fangpin_contracts.subjects import subject
from fangpin_kit.bus import PermanentError
from fangpin_kit.clock import Clock, china_date
from fangpin_kit.db import UnitOfWork
from fangpin_kit.logging import get_logger
from fangpin_kit.masking import mask_text
from fangpin_kit.parameters import ParameterError
from fangpin_screening.adapters.orm import ClueRecordRow, DecisionRow, IncomeRow
from fangpin_screening.adapters.repository import (
    ClueRecordRepository,
    DecisionRepository,
    IncomeRepository,
    MeasureRepository,
    MonitoringRepository,
    SnapshotRepository,
)
from fangpin_screening.domain.elimination import (
    EliminationCheck,
    QuarterIncome,
    RollbackCheck,
    check_elimination,
    check_rollback,
)
from fangpin_screening.domain.engine import CompiledRuleset, Decision, decide
from fangpin_screening.domain.income import quarterly_history
from fangpin_screening.domain.monitoring import CaseDecision, Monitoring, after_case_decision
from fangpin_screening.domain.rescreen import outcome_key
from fangpin_screening.service_layer.scale_watch import check_cluster

log = get_logger("fangpin.screening")

_DECISION_NAMESPACE: Final = uuid.UUID("0b6f3f8e-3c52-4f0f-8d2a-5e7b1d9c4a61")
MEASURE_REPLIES: Final = ("accepted", "completed", "rejected")


class Rules(Protocol):
    """The dated screening parameters (adapters.rules.ScreeningRules)."""

    def on(self, day: date, province: str | None = None) -> CompiledRuleset: ...

    def ruleset_id(self, day: date, province: str | None = None) -> str: ...


@dataclass(frozen=True)
class ScreeningContext:
    """What the use cases need from outside: county, dated rulesets, clock."""

    county: str
    rules: Rules
    clock: Clock
    source: str = "fangpin/screening"


class InvalidInput(ValueError):
    """A request field that cannot be used; the message names the field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


class NotFound(LookupError):
    """Nothing known about the household asked for."""


class NotMonitored(Exception):
    """The household is not a monitored household (监测对象)."""


def decision_id_for(key: str) -> str:
    """A decision id derived from what was decided on, so a repeat maps to the same id."""
    return "D" + uuid.uuid5(_DECISION_NAMESPACE, key).hex[:24]


def record_digest(record: dict[str, Any]) -> str:
    """SHA-256 of the record as canonical JSON (keys sorted)."""
    return hashlib.sha256(msgspec.json.encode(record, order="sorted")).hexdigest()


def region_of(household: Household) -> Region:
    town = household.region.town
    return Region(
        county=household.region.county,
        town=town if isinstance(town, str) else None,
        village=household.region.village,
    )


def no_ruleset(day: date, err: ParameterError) -> str:
    return f"no screening ruleset in force on {day} ({err.key}: {err.reason})"


def ruleset_on(ctx: ScreeningContext, day: date, field: str = "as_of") -> CompiledRuleset:
    """The ruleset in force on `day`; InvalidInput naming `field` when there is none."""
    try:
        return ctx.rules.on(day)
    except ParameterError as err:
        raise InvalidInput(field, no_ruleset(day, err)) from err


def _household_of(obj: Any, path: str) -> Household:
    """A validated household; a bad record is a PermanentError naming the field path."""
    if not isinstance(obj, dict):
        raise PermanentError(f"{path}: expected a household record (JSON object)")
    try:
        return validate_household(obj)
    except RecordError as err:
        where = f"{path}.{err.path}" if err.path else path
        raise PermanentError(mask_text(f"{where}: {err.reason}")) from err


def _check_county(ctx: ScreeningContext, county: str) -> None:
    if county != ctx.county:
        raise PermanentError(f"region.county: household of county {county}, this is {ctx.county}")


async def income_history(uow: UnitOfWork, household_id: str) -> list[QuarterIncome]:
    return quarterly_history(await IncomeRepository(uow.session).history(household_id))


async def rollback_of(
    uow: UnitOfWork,
    household: Household,
    monitoring: Monitoring | None,
    decision: Decision,
    ruleset: CompiledRuleset,
) -> RollbackCheck | None:
    """The roll-back check (回退) of an eliminated household screened in scope again."""
    if (
        monitoring is None
        or monitoring.status != "eliminated"
        or monitoring.eliminated_on is None
        or not decision.in_scope
    ):
        return None
    history = await income_history(uow, household.household_id)
    return check_rollback(household, monitoring.eliminated_on, history, ruleset)


def announce_decision(
    uow: UnitOfWork,
    ctx: ScreeningContext,
    *,
    decision: Decision,
    household: Household,
    record: dict[str, Any],
    reason: str,
    decision_id: str,
    event_id: str,
    clue_id: str | None = None,
    run_id: str | None = None,
    rollback: RollbackCheck | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Announce a decision (screening.decided, staged in the unit of work's outbox) and return
    the values of its `decisions` row, to be stored in the same commit."""
    now = now or ctx.clock()
    body = decision.to_dict()
    rolled_back = rollback is not None and rollback.rollback
    region = region_of(household)
    payload = ScreeningDecided(
        decision_id=decision_id,
        clue_id=clue_id,
        household_id=decision.household_id,
        region=region,
        reason=reason,  # type: ignore[arg-type]
        decision=body,
        household=record,
        rollback=rolled_back,
        rollback_reasons=list(rollback.reasons) if rolled_back and rollback else [],
    )
    uow.emit(
        subject(ctx.county, "screening", "decided"),
        new_event(
            domain="screening",
            event="decided",
            county=ctx.county,
            source=ctx.source,
            data=payload,
            subject=decision.household_id,
            event_id=event_id,
            time=now,
        ),
    )
    return {
        "decision_id": decision_id,
        "household_id": decision.household_id,
        "village": region.village,
        "clue_id": clue_id,
        "run_id": run_id,
        "reason": reason,
        "as_of": decision.as_of,
        "ruleset": decision.ruleset,
        "in_scope": decision.in_scope,
        "eligible": decision.eligible,
        "category": decision.category,
        "outcome_key": outcome_key(decision),
        "rollback": rolled_back,
        "rollback_check": (
            {"reasons": list(rollback.reasons), "values": dict(rollback.values)}
            if rollback is not None
            else None
        ),
        "decision": body,
        "decided_at": now,
    }


def store_decision(uow: UnitOfWork, ctx: ScreeningContext, **fields: Any) -> DecisionRow:
    """Store a decision with its trace and announce it in the same commit (see
    `announce_decision` for the fields)."""
    row = DecisionRow(**announce_decision(uow, ctx, **fields))
    DecisionRepository(uow.session).add(row)
    return row


async def on_clue_accepted(
    uow: UnitOfWork, ctx: ScreeningContext, event: CloudEvent
) -> DecisionRow:
    """Decide on a risk clue (识别研判) and announce the decision.

    The as-of date is the clue's registration date in China time: the household is judged on
    the rules in force, and the 12-month income window ending, on the day the clue entered the
    county's books (the start of the procedure's time limits), however late it is decided.
    The decision and event ids derive from the clue id, so a replayed clue is a duplicate.
    """
    accepted = ClueAccepted.model_validate(event.data)
    _check_county(ctx, accepted.region.county)
    kind = _bounded("kind", accepted.kind, 32)
    source = _bounded("source", accepted.source, 32)
    clue_id = _bounded("clue_id", accepted.clue_id, 64)
    household = _household_of(accepted.household, "household")
    if household.household_id != accepted.household_id:
        raise PermanentError("household.household_id: differs from the clue's household_id")
    _check_county(ctx, household.region.county)
    decisions = DecisionRepository(uow.session)
    decision_id = decision_id_for(f"clue:{clue_id}")
    existing = await decisions.get(decision_id)
    if existing is not None:
        return existing
    as_of = china_date(accepted.registered_at)
    try:
        ruleset = ruleset_on(ctx, as_of, "registered_at")
        decision = decide(household, ruleset)
    except (InvalidInput, RecordError) as err:
        raise PermanentError(f"household {household.household_id}: {err}") from err
    record = household_to_dict(household)
    now = ctx.clock()
    monitoring = await MonitoringRepository(uow.session).get(household.household_id)
    rollback = await rollback_of(uow, household, monitoring, decision, ruleset)
    row = store_decision(
        uow,
        ctx,
        decision=decision,
        household=household,
        record=record,
        reason="clue",
        decision_id=decision_id,
        event_id=f"{clue_id}.decided",
        clue_id=clue_id,
        rollback=rollback,
        now=now,
    )
    snapshots = SnapshotRepository(uow.session)
    snapshots.save(
        await snapshots.get(household.household_id),
        household_id=household.household_id,
        village=household.region.village,
        record=record,
        digest=record_digest(record),
        per_capita=decision.per_capita,
        source="clue",
        now=now,
    )
    await ClueRecordRepository(uow.session).add(
        ClueRecordRow(
            clue_id=clue_id,
            household_id=household.household_id,
            village=household.region.village,
            kind=kind,
            source=source,
            observed_at=accepted.observed_at,
            registered_at=accepted.registered_at,
        )
    )
    # a warning cluster (规模性返贫) is announced as soon as the clue completing it arrives
    await check_cluster(uow, ctx, household.region.village, kind, china_date(now))
    return row


async def on_case_decided(uow: UnitOfWork, ctx: ScreeningContext, event: CloudEvent) -> None:
    """Follow approval's decisions: who is monitored, for which risks, who was eliminated."""
    case = CaseEvent.model_validate(event.data)
    _check_county(ctx, case.region.county)
    decided = CaseDecision(
        case_id=case.case_id,
        kind=case.kind,
        outcome=case.outcome or "",
        on=china_date(event.time),
        green_channel=case.green_channel,
        category=case.category,
        risk_types=tuple(case.risk_types),
        elimination_mode=case.elimination_mode,
    )
    now = ctx.clock()
    monitoring = MonitoringRepository(uow.session)
    current = await monitoring.get(case.household_id)
    after = after_case_decision(current, case.household_id, decided)
    if after is not None and after != current:
        await monitoring.save(after, case.region.village, now)
    if case.household is not None:
        await _snapshot_if_missing(uow, ctx, case.household_id, case.household, decided.on, now)


async def _snapshot_if_missing(
    uow: UnitOfWork,
    ctx: ScreeningContext,
    household_id: str,
    record: dict[str, Any],
    on: date,
    now: datetime,
) -> None:
    """A monitored household screening never saw (e.g. registered through the green channel
    before a clue reached it) gets the case's record as its snapshot."""
    snapshots = SnapshotRepository(uow.session)
    if await snapshots.get(household_id) is not None:
        return
    try:
        household = validate_household(record)
        decision = decide(household, ctx.rules.on(on))
    except (RecordError, ParameterError) as err:
        log.warning("case snapshot not kept", household_id=household_id, reason=mask_text(str(err)))
        return
    if household.household_id != household_id:
        log.warning("case snapshot not kept", household_id=household_id, reason="other household")
        return
    normalized = household_to_dict(household)
    snapshots.save(
        None,
        household_id=household_id,
        village=household.region.village,
        record=normalized,
        digest=record_digest(normalized),
        per_capita=decision.per_capita,
        source="case",
        now=now,
    )


def _bounded(field: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise PermanentError(f"{field}: longer than {limit} characters")
    return value


async def on_income_recorded(uow: UnitOfWork, ctx: ScreeningContext, event: CloudEvent) -> bool:
    """Income of one collection period (收入采集); a later revision replaces an earlier one."""
    income = IncomeRecorded.model_validate(event.data)
    _check_county(ctx, income.region.county)
    if income.period_end < income.period_start:
        raise PermanentError("period_end: before period_start")
    row = IncomeRow(
        household_id=_bounded("household_id", income.household_id, 32),
        period_start=income.period_start,
        period_end=income.period_end,
        members=income.members,
        net=income.net,
        per_capita=income.per_capita,
        revision=income.revision,
        plan_id=_bounded("plan_id", income.plan_id, 40),
        collected_by=_bounded("collected_by", income.collected_by, 64),
        recorded_at=income.recorded_at,
        event_id=event.id,
    )
    return await IncomeRepository(uow.session).record(row)


async def on_measure_event(uow: UnitOfWork, ctx: ScreeningContext, event: CloudEvent) -> None:
    """Which measures of a household its departments took on (for the elimination mode)."""
    name = event.type.split(".")[3] if event.type.count(".") >= 4 else ""
    measures = MeasureRepository(uow.session)
    now = ctx.clock()
    if name == "dispatched":
        dispatched = MeasureDispatched.model_validate(event.data)
        await measures.record(
            _bounded("measure_id", dispatched.measure_id, 64),
            "dispatched",
            _bounded("dept", dispatched.dept, 32),
            now,
            _bounded("household_id", dispatched.household_id, 32),
        )
    elif name in MEASURE_REPLIES:
        reply = MeasureReply.model_validate(event.data)
        await measures.record(
            _bounded("measure_id", reply.measure_id, 64),
            name,
            _bounded("dept", reply.dept, 32),
            now,
            None,
        )


@dataclass(frozen=True)
class EliminationOutcome:
    """The elimination check of a monitored household, or the roll-back check of an eliminated
    one, with what it was judged on."""

    household_id: str
    as_of: date
    ruleset: str
    status: str  # eligible | not_yet | held | eliminated
    monitoring: Monitoring
    income: list[QuarterIncome]
    measures_implemented: int = 0
    check: EliminationCheck | None = None
    rollback: RollbackCheck | None = None


async def elimination_check(
    uow: UnitOfWork, ctx: ScreeningContext, household_id: str, as_of: date
) -> EliminationOutcome:
    """风险消除 conditions of a monitored household on `as_of` (DOMAIN section 4), on its latest
    record, its identified risks and its quarterly income; for an eliminated household, whether
    its risk returned (回退)."""
    if not household_id:
        raise InvalidInput("household_id", "required")
    snapshot = await SnapshotRepository(uow.session).get(household_id)
    monitoring = await MonitoringRepository(uow.session).get(household_id)
    if monitoring is None or monitoring.status == "removed":
        raise NotMonitored(f"household_id: {household_id} is not a monitored household")
    if snapshot is None:
        raise NotFound(f"household_id: no household record of {household_id} in screening")
    try:
        household = validate_household(snapshot.record)
    except RecordError as err:  # stored before a schema change: it must be re-imported
        raise InvalidInput(f"household.{err.path}", err.reason) from err
    ruleset = ruleset_on(ctx, as_of)
    history = await income_history(uow, household_id)
    if monitoring.status == "eliminated" and monitoring.eliminated_on is not None:
        rollback = check_rollback(household, monitoring.eliminated_on, history, ruleset)
        return EliminationOutcome(
            household_id, as_of, ruleset.ruleset_id, "eliminated", monitoring, history,
            rollback=rollback,
        )  # fmt: skip
    implemented = await MeasureRepository(uow.session).implemented(household_id)
    check = check_elimination(household, monitoring.risk_types, history, implemented, ruleset)
    return EliminationOutcome(
        household_id,
        as_of,
        ruleset.ruleset_id,
        check.status,
        monitoring,
        history,
        measures_implemented=implemented,
        check=check,
    )
