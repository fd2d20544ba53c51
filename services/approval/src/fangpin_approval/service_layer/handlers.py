"""Approval's use cases: open cases from screening, signed actions, sweeps, notice, audit."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fangpin_approval.adapters.repository import (
    CaseRepository,
    LedgerStore,
    RegisterRepository,
    green_channel_candidates,
    noticed_cases,
    overdue_candidates,
)
from fangpin_approval.adapters.rules import ProcedureRules
from fangpin_approval.domain.actors import Actor, Level, county_of, town_of
from fangpin_approval.domain.case import Case, GreenChannelState
from fangpin_approval.domain.codes import (
    Category,
    EliminationMode,
    Exclusion,
    RegisterStatus,
    RiskType,
)
from fangpin_approval.domain.errors import ApprovalError, Conflict, InvalidTransition
from fangpin_approval.domain.events import (
    CaseAdvanced,
    CaseDecided,
    CaseOpened,
    CaseOverdue,
    DomainEvent,
    NoticePublished,
    Outcome,
)
from fangpin_approval.domain.ledger import GENESIS_HASH, Problem, Verification, verify
from fangpin_approval.domain.notice import NoticeEntry, render_notice
from fangpin_approval.domain.procedure import DEFAULT_FLOWS, FlowKind, FlowRegistry, Step
from fangpin_approval.domain.register import (
    MonitoredHousehold,
    StatusChange,
    apply_decision,
    safety_net_hold_reason,
)
from fangpin_contracts.cloudevents import CloudEvent, new_event
from fangpin_contracts.events import CaseEvent, Region, ScreeningDecided
from fangpin_contracts.subjects import subject
from fangpin_kit.bus import PermanentError
from fangpin_kit.clock import Clock, china_date
from fangpin_kit.db import Database, UnitOfWork
from fangpin_kit.logging import get_logger
from fangpin_kit.workdays import WorkdayCalendar

log = get_logger("fangpin.approval")

# The domain's outcome names -> the CONTRACT names agreed with assistance and notify. The
# green channel is `green_channel` when entered and `green_channel_expired` when left; every
# other outcome passes through unchanged (`held` is set separately, see `_apply_decisions`).
CONTRACT_OUTCOMES: dict[Outcome, str] = {
    Outcome.GREEN_CHANNEL_ENTERED: "green_channel",
    Outcome.GREEN_CHANNEL_EXITED: "green_channel_expired",
}
HELD_OUTCOME = "held"

# Case ids of identifications opened from a screening decision derive from the decision id, so a
# redelivered decision can never open a second case.
_CASE_NAMESPACE = uuid.UUID("6f0e3c3a-6a49-4b8e-9a55-2f1d8f3b9c10")


class NotFound(Exception):
    """No case (or register entry) with that id."""


@dataclass(frozen=True)
class ApprovalContext:
    """What the use cases need from outside: county, dated procedure rules, calendar, clock."""

    county: str
    procedure: ProcedureRules
    calendar: WorkdayCalendar
    clock: Clock
    flows: FlowRegistry = DEFAULT_FLOWS
    source: str = "fangpin/approval"

    @property
    def system_actor(self) -> Actor:
        """The county's monitoring system, for register changes no person signs (roll-back on a
        new in-scope screening decision); recorded as such in the ledger."""
        return Actor("fangpin/approval", "动态监测系统", "system", Level.COUNTY, self.county)


@dataclass
class _Commit:
    """Everything one action changes besides the case row: register and ledger effects."""

    register: dict[str, MonitoredHousehold] = field(default_factory=dict)
    register_records: list[dict[str, Any]] = field(default_factory=list)
    # decisions whose contract outcome and reason differ from the domain's (`held`)
    outcomes: dict[CaseDecided, str] = field(default_factory=dict)
    reasons: dict[CaseDecided, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- screening


def identification_case_id(decision_id: str) -> str:
    return "I" + uuid.uuid5(_CASE_NAMESPACE, decision_id).hex[:20]


def new_case_id(kind: FlowKind) -> str:
    return ("I" if kind is FlowKind.IDENTIFICATION else "E") + uuid.uuid4().hex[:20]


def _codes(values: Any, kind: type, field_name: str) -> list[Any]:
    if values is None:
        return []
    if not isinstance(values, list):
        raise PermanentError(f"decision.{field_name}: expected a list of codes")
    try:
        return [kind(v) for v in values]
    except ValueError as err:
        raise PermanentError(f"decision.{field_name}: {err}") from err


async def on_screening_decided(
    uow: UnitOfWork, ctx: ApprovalContext, event: CloudEvent
) -> Case | None:
    """A screening decision (CONTRACT section 3) for a household.

    In scope (eligible, or needing the appraisal because of exclusions) and neither monitored
    nor under an open case: an identification case opens; an eliminated household is first
    rolled back (风险消除回退). A household with an open identification case gets the newer
    decision recorded on it (up to the appraisal). The time limits run from `decision.as_of`
    (the date screening judged the clue on; never later than today).
    """
    decided = ScreeningDecided.model_validate(event.data)
    if decided.region.county != ctx.county:
        raise PermanentError(
            f"region.county: household of county {decided.region.county}, "
            f"this is county {ctx.county}"
        )
    decision = decided.decision
    in_scope = bool(decision.get("in_scope"))
    eligible = bool(decision.get("eligible"))
    needs_appraisal = bool(decision.get("needs_appraisal"))
    raw_category = decision.get("category")
    try:
        category = Category(raw_category) if raw_category else None
    except ValueError as err:
        raise PermanentError(f"decision.category: {err}") from err
    risk_types = _codes(decision.get("risk_types"), RiskType, "risk_types")
    exclusions = _codes(decision.get("excluded_by"), Exclusion, "excluded_by")
    try:
        as_of = dt.date.fromisoformat(str(decision.get("as_of")))
    except ValueError as err:
        raise PermanentError(f"decision.as_of: not a YYYY-MM-DD date: {err}") from err
    ruleset = str(decision.get("ruleset") or "")
    household_id = decided.household_id
    village = decided.region.village

    now = ctx.clock()
    cases = CaseRepository(uow.session, ctx.flows)
    registers = RegisterRepository(uow.session)
    entry = await registers.get(household_id)
    if entry is not None:
        await registers.set_snapshot(household_id, decided.household)

    open_case = await cases.open_case_of(household_id)
    if open_case is not None:
        await _record_newer_decision(
            uow, ctx, cases, open_case, now, category, risk_types, exclusions, ruleset
        )
        return open_case

    wanted = in_scope and (eligible or (needs_appraisal and bool(exclusions)))
    if not wanted:
        return None
    if entry is not None and entry.status in (RegisterStatus.MONITORED, RegisterStatus.HELD):
        log.info("decision for a monitored household", household_id=household_id)
        return None
    case_id = identification_case_id(decided.decision_id)
    if await cases.get(case_id) is not None:
        log.info("decision already opened its case", case_id=case_id)
        return None

    commit = _Commit()
    if entry is not None and entry.status is RegisterStatus.ELIMINATED:
        entry.roll_back(
            ctx.system_actor,
            now,
            reason=(
                f"screening decision {decided.decision_id} finds the household in scope again: "
                "the elimination was not stable (风险消除回退), identification restarts"
            ),
        )
        _collect_register(commit, entry, ctx.system_actor)

    clue_on = min(as_of, china_date(now))
    try:
        case = Case.open(
            case_id=case_id,
            kind=FlowKind.IDENTIFICATION,
            household_id=household_id,
            region=village,
            clue_on=clue_on,
            at=now,
            params=ctx.procedure(clue_on),
            calendar=ctx.calendar,
            household=entry,
            source=f"screening:{decided.reason}",
            flows=ctx.flows,
        )
    except (ValueError, InvalidTransition) as err:
        raise PermanentError(f"household {household_id}: {err}") from err
    case.record_screening(
        now, category=category, risk_types=risk_types, exclusions=exclusions, ruleset=ruleset
    )
    await cases.add(case, household=decided.household, source=f"screening:{decided.reason}")
    await _commit_case(uow, ctx, cases, case, registers=registers, commit=commit, new=True)
    return case


async def _record_newer_decision(
    uow: UnitOfWork,
    ctx: ApprovalContext,
    cases: CaseRepository,
    case: Case,
    now: dt.datetime,
    category: Category | None,
    risk_types: Sequence[RiskType],
    exclusions: Sequence[Exclusion],
    ruleset: str,
) -> None:
    try:
        case.record_screening(
            now, category=category, risk_types=risk_types, exclusions=exclusions, ruleset=ruleset
        )
    except InvalidTransition as err:
        log.info("newer screening decision not taken", case_id=case.id, reason=str(err))
        return
    await _commit_case(uow, ctx, cases, case)


# ------------------------------------------------------------------------ signed actions

CaseStep = Callable[[Case, dt.datetime, int], None]


async def act_on_case(
    uow: UnitOfWork, ctx: ApprovalContext, case_id: str, expected_version: int, act: CaseStep
) -> Case:
    """Load a case, let `act(case, now, version)` take one domain action, save it all.

    `expected_version` 0 means the caller does not check (the loaded version is used).
    """
    cases = CaseRepository(uow.session, ctx.flows)
    case = await cases.get(case_id)
    if case is None:
        raise NotFound(f"case {case_id}")
    if expected_version and expected_version != case.version:
        raise Conflict(case.id, expected_version, case.version)
    act(case, ctx.clock(), case.version)
    await _commit_case(uow, ctx, cases, case)
    return case


async def sign_step(
    uow: UnitOfWork,
    ctx: ApprovalContext,
    *,
    case_id: str,
    step: Step | None,
    actor: Actor,
    expected_version: int = 0,
    comment: str = "",
    attachments: Sequence[str] = (),
    co_signers: Sequence[Actor] = (),
    special_reason: str = "",
) -> Case:
    """Sign the case's current step (with the special-case reason of an exclusion override)."""

    def act(case: Case, now: dt.datetime, version: int) -> None:
        if step is not None and step != case.step:
            raise InvalidTransition(f"case {case.id} is at {case.step}, not {step}")
        if special_reason.strip():
            case.record_special_reason(actor, now, expected_version=version, reason=special_reason)
        case.sign(
            actor,
            now,
            expected_version=case.version,
            comment=comment,
            attachments=attachments,
            co_signers=co_signers,
        )

    return await act_on_case(uow, ctx, case_id, expected_version, act)


# The actions an operator takes with one text (comment or reason), by name; each calls one
# domain method. `text` is the objection content, the return/rejection/withdrawal reason or the
# hardship of an urgent confirmation.
TextAction = Callable[[Case, Actor, dt.datetime, int, str, Sequence[str]], None]
CASE_ACTIONS: dict[str, TextAction] = {
    "publish_notice": lambda case, actor, now, version, text, files: case.publish_notice(
        actor, now, expected_version=version, comment=text, attachments=files
    ),
    "object": lambda case, actor, now, version, text, files: case.object(
        actor, now, expected_version=version, comment=text, attachments=files
    ),
    "return": lambda case, actor, now, version, text, files: case.return_(
        actor, now, expected_version=version, comment=text, attachments=files
    ),
    "reject": lambda case, actor, now, version, text, files: case.reject(
        actor, now, expected_version=version, reason=text, attachments=files
    ),
    "withdraw": lambda case, actor, now, version, text, files: case.withdraw(
        actor, now, expected_version=version, reason=text, attachments=files
    ),
    "confirm_urgent": lambda case, actor, now, version, text, files: case.confirm_urgent(
        actor, now, expected_version=version, comment=text, attachments=files
    ),
    "record_system_entry": lambda case, actor, now, version, text, files: case.record_system_entry(
        actor, now, expected_version=version, comment=text, attachments=files
    ),
}


async def take_action(
    uow: UnitOfWork,
    ctx: ApprovalContext,
    action: str,
    *,
    case_id: str,
    actor: Actor,
    text: str = "",
    attachments: Sequence[str] = (),
    expected_version: int = 0,
) -> Case:
    """One of CASE_ACTIONS on a case, saved with its ledger entry and events."""
    method = CASE_ACTIONS[action]

    def act(case: Case, now: dt.datetime, version: int) -> None:
        method(case, actor, now, version, text, attachments)

    return await act_on_case(uow, ctx, case_id, expected_version, act)


async def nominate_elimination(
    uow: UnitOfWork,
    ctx: ApprovalContext,
    *,
    household_id: str,
    actor: Actor,
    mode: EliminationMode,
    measures: Sequence[str] = (),
    comment: str = "",
    attachments: Sequence[str] = (),
) -> Case:
    """The village nominates a monitored household for risk elimination (村提名)."""
    registers = RegisterRepository(uow.session)
    entry = await registers.get(household_id)
    if entry is None:
        raise InvalidTransition(
            f"household {household_id} is not in the register: nothing to eliminate"
        )
    cases = CaseRepository(uow.session, ctx.flows)
    existing = await cases.open_case_of(household_id)
    if existing is not None:
        raise InvalidTransition(
            f"household {household_id} already has the open {existing.kind} case {existing.id}"
        )
    now = ctx.clock()
    case = Case.nominate_for_elimination(
        actor,
        now,
        case_id=new_case_id(FlowKind.ELIMINATION),
        household=entry,
        mode=mode,
        measures=measures,
        params=ctx.procedure(china_date(now)),
        calendar=ctx.calendar,
        comment=comment,
        attachments=attachments,
        flows=ctx.flows,
    )
    snapshot = (await registers.row(household_id)).household  # type: ignore[union-attr]
    await cases.add(case, household=snapshot, source="nomination")
    await _commit_case(uow, ctx, cases, case, registers=registers, new=True)
    return case


# ------------------------------------------------------------------------------ commit


async def _commit_case(
    uow: UnitOfWork,
    ctx: ApprovalContext,
    cases: CaseRepository,
    case: Case,
    *,
    registers: RegisterRepository | None = None,
    commit: _Commit | None = None,
    new: bool = False,
) -> None:
    """Save the case, apply its decisions to the register, chain the ledger, stage events."""
    registers = registers or RegisterRepository(uow.session)
    commit = commit or _Commit()
    events = case.pull_events()
    actions = list(case.history) if new else cases.new_actions(case)
    if not new:
        await cases.save(case)
    await _apply_decisions(ctx, registers, cases, case, events, commit)
    now = ctx.clock()
    for entry in commit.register.values():
        await registers.save(entry, at=now, household=cases.household_snapshot(case.id))
    records: list[tuple[dict[str, Any], dt.datetime]] = [
        (record, now) for record in commit.register_records if record.get("standalone")
    ]
    case_records = [
        (
            {"type": "case", "case_kind": case.kind.value, **a.ledger_record(case.household_id)},
            a.at,
        )
        for a in actions
    ]
    effects = [r for r in commit.register_records if not r.get("standalone")]
    if effects and case_records:
        case_records[-1][0]["register"] = effects
    await LedgerStore(uow.session).append(
        [({k: v for k, v in r.items() if k != "standalone"}, at) for r, at in records]
        + case_records
    )
    snapshot = cases.household_snapshot(case.id)
    last_seq = case.history[-1].seq if case.history else 0
    for i, event in enumerate(events):
        staged = _contract_event(ctx, case, event, snapshot, commit, now, f"{last_seq}.{i}")
        if staged is not None:
            uow.emit(*staged)


async def _apply_decisions(
    ctx: ApprovalContext,
    registers: RegisterRepository,
    cases: CaseRepository,
    case: Case,
    events: Sequence[DomainEvent],
    commit: _Commit,
) -> None:
    """The register after each decision; an eliminated household that must stay on the
    safety net is `held` instead (contract outcome `held`)."""
    for event in events:
        if not isinstance(event, CaseDecided):
            continue
        entry = commit.register.get(case.household_id) or await registers.get(case.household_id)
        if (
            event.kind is FlowKind.ELIMINATION
            and event.outcome is Outcome.APPROVED
            and entry is not None
        ):
            row = await registers.row(case.household_id)
            latest = row.household if row is not None else None
            reason = safety_net_hold_reason(latest or cases.household_snapshot(case.id))
            approver = case.history[-1].actor
            if reason is not None and approver is not None:
                entry.hold(approver, event.decided_at, reason=reason)
                commit.outcomes[event] = HELD_OUTCOME
                commit.reasons[event] = reason
                _collect_register(commit, entry, approver, effect=True)
                continue
        before = len(entry.history) if entry is not None else 0
        after = apply_decision(entry, event)
        if after is not None and len(after.history) > before:
            _collect_register(commit, after, None, effect=True, since=before)


def _collect_register(
    commit: _Commit,
    entry: MonitoredHousehold,
    actor: Actor | None,
    *,
    effect: bool = False,
    since: int | None = None,
) -> None:
    """Remember the entry to save and its new history lines for the ledger."""
    commit.register[entry.household_id] = entry
    entry.pull_events()
    changes: list[StatusChange] = entry.history[since:] if since is not None else entry.history[-1:]
    for change in changes:
        commit.register_records.append(
            {
                "type": "register",
                "household_id": entry.household_id,
                "region": entry.region,
                "on": change.on.isoformat(),
                "from_status": change.from_status.value if change.from_status else None,
                "to_status": change.to_status.value,
                "case_id": change.case_id,
                "reason": change.reason,
                "actor": actor.as_record() if actor else None,
                "standalone": not effect,
            }
        )


def _region(village: str) -> Region:
    return Region(county=county_of(village), town=town_of(village), village=village)


def _due(record: Mapping[str, str | None], case: Case) -> dict[str, dt.date]:
    """Due dates by name for `CaseEvent.due`, with `notice_start` while a notice runs."""
    due = {k: dt.date.fromisoformat(v) for k, v in record.items() if v}
    if case.notice_published_on is not None:
        due["notice_start"] = case.notice_published_on
    return due


def _actor_at(case: Case, actor_id: str, at: dt.datetime) -> dict[str, Any] | None:
    for action in reversed(case.history):
        if action.actor is not None and action.actor.id == actor_id and action.at == at:
            return action.actor.as_record()
    return None


def _contract_event(
    ctx: ApprovalContext,
    case: Case,
    event: DomainEvent,
    snapshot: dict[str, Any] | None,
    commit: _Commit,
    now: dt.datetime,
    tag: str,
) -> tuple[str, CloudEvent] | None:
    """The CONTRACT `case.*` event of a domain event (None for events with no contract twin)."""
    base: dict[str, Any] = {
        "case_id": case.id,
        "kind": case.kind.value,
        "household_id": case.household_id,
        "region": _region(case.region),
        "step": case.step.value,
        "status": case.status.value,
        "flow_version": case.flow.version,
        "category": case.category.value if case.category else None,
        "risk_types": [r.value for r in case.risk_types],
        "excluded_by": [e.value for e in case.exclusions],
        "elimination_mode": case.elimination_mode.value if case.elimination_mode else None,
        "green_channel": case.green_channel.state is GreenChannelState.OPEN,
        "version": case.version,
        "due": _due(case.due.as_record(), case),
    }
    event_id = ""
    if isinstance(event, CaseOpened):
        name, event_id = "opened", f"{case.id}.opened"
        data = base | {"step": event.step.value, "due": _due(event.due.as_record(), case)}
    elif isinstance(event, CaseAdvanced):
        name = "advanced"
        data = base | {
            "action": event.action,
            "from_step": event.from_step.value,
            "step": event.to_step.value,
            "actor": _actor_at(case, event.actor_id, event.at),
            "due": _due(event.due.as_record(), case),
        }
    elif isinstance(event, NoticePublished):
        name = "advanced"
        data = base | {"action": "publish_notice", "from_step": case.step.value}
        publisher = next(
            (a for a in reversed(case.history) if a.action.value == "publish_notice"), None
        )
        if publisher is not None and publisher.actor is not None:
            data["actor"] = publisher.actor.as_record()
    elif isinstance(event, CaseDecided):
        name = "decided"
        data = base | {
            "outcome": commit.outcomes.get(event)
            or CONTRACT_OUTCOMES.get(event.outcome, event.outcome.value),
            "green_channel": event.green_channel,
            "reason": commit.reasons.get(event, event.reason),
            "category": event.category.value if event.category else None,
            "risk_types": [r.value for r in event.risk_types],
            "elimination_mode": event.elimination_mode.value if event.elimination_mode else None,
            "due": _due(event.due.as_record(), case),
            "household": snapshot,
        }
        decider = case.history[-1].actor
        if decider is not None:
            data["actor"] = decider.as_record()
    elif isinstance(event, CaseOverdue):
        name = "overdue"
        event_id = f"{case.id}.overdue.{event.deadline.value}.{event.due_on.isoformat()}"
        data = base | {
            "step": event.step.value,
            "deadline": event.deadline.value,
            "due": {event.deadline.value: event.due_on},
            "escalate_to": event.escalate_to.value,
            "reason": (
                f"{event.deadline.value} was due {event.due_on.isoformat()}: the "
                f"{event.responsible_level.value} is late, escalated to the "
                f"{event.escalate_to.value}"
            ),
        }
    else:
        return None
    payload = CaseEvent(**data)
    event_id = event_id or f"{case.id}.{name}.{tag}"
    return (
        subject(ctx.county, "case", name),
        new_event(
            domain="case",
            event=name,
            county=ctx.county,
            source=ctx.source,
            data=payload,
            subject=case.household_id,
            event_id=event_id,
            time=now,
        ),
    )


# ------------------------------------------------------------------------------ sweeps


async def sweep_overdue(database: Database, ctx: ApprovalContext, *, limit: int = 500) -> int:
    """Report each breached time limit once (case.overdue, escalated); returns how many.

    One case per transaction, so a signer racing the sweep conflicts with one case at most
    (the sweep then leaves it for the next pass).
    """
    now = ctx.clock()
    async with database.sessions() as session:
        candidates = await overdue_candidates(session, china_date(now), limit)
    reported = 0
    for case_id in candidates:
        async with database.uow() as uow:
            cases = CaseRepository(uow.session, ctx.flows)
            case = await cases.get(case_id)
            if case is None:
                continue
            try:
                found = case.check_overdue(now)
                if not found:
                    continue
                await _commit_case(uow, ctx, cases, case)
                await uow.commit()
            except ApprovalError as err:
                log.info("overdue check skipped", case_id=case_id, reason=str(err))
                continue
            reported += len(found)
    return reported


async def sweep_green_channel(database: Database, ctx: ApprovalContext, *, limit: int = 500) -> int:
    """Green-channel cases whose month ran out leave the channel; assistance stops."""
    now = ctx.clock()
    async with database.sessions() as session:
        candidates = await green_channel_candidates(session, china_date(now), limit)
    expired = 0
    for case_id in candidates:
        async with database.uow() as uow:
            cases = CaseRepository(uow.session, ctx.flows)
            case = await cases.get(case_id)
            if case is None:
                continue
            try:
                if not case.expire_green_channel(now):
                    continue
                await _commit_case(uow, ctx, cases, case)
                await uow.commit()
            except ApprovalError as err:
                log.info("green channel expiry skipped", case_id=case_id, reason=str(err))
                continue
            expired += 1
    return expired


# ------------------------------------------------------------------------------ queries


@dataclass(frozen=True)
class Notice:
    """The public notice text of one village for one publication day."""

    village: str
    published_on: dt.date
    last_day: dt.date
    case_ids: list[str]
    text: str


def _head_of(household: Mapping[str, Any]) -> tuple[str, int]:
    members = household.get("members") or []
    head = next((m for m in members if m.get("relation") == "head"), members[0] if members else {})
    return str(head.get("name") or ""), len(members)


async def notice_text(
    session: AsyncSession,
    ctx: ApprovalContext,
    *,
    village: str,
    village_name: str = "本村",
    published_on: dt.date | None = None,
    full_names: bool = False,
) -> Notice:
    """The village public notice (村内公示) of the cases published that day (default latest)."""
    rows = await noticed_cases(session, village, published_on)
    if not rows:
        when = f" on {published_on.isoformat()}" if published_on else ""
        raise NotFound(f"village {village}: no public notice published{when}")
    cases = CaseRepository(session, ctx.flows)
    entries = []
    for row in rows:
        if not row.household:
            raise InvalidTransition(f"case {row.case_id} has no household record for the notice")
        case = cases.to_case(row, [])
        head_name, members = _head_of(row.household)
        entries.append(NoticeEntry.for_case(case, head_name=head_name, members=members))
    first = rows[0]
    assert first.notice_published_on is not None
    last_day = max(r.due_notice_last_day or first.notice_published_on for r in rows)
    text = render_notice(
        village=village,
        village_name=village_name,
        published_on=first.notice_published_on,
        last_day=last_day,
        entries=entries,
        full_names=full_names,
    )
    return Notice(village, first.notice_published_on, last_day, [r.case_id for r in rows], text)


@dataclass(frozen=True)
class AuditResult:
    """`verify` over the whole stored ledger, with the anchored head."""

    verification: Verification
    head: str
    entries: int


async def verify_audit(session: AsyncSession, *, chunk: int = 5000) -> AuditResult:
    """Check the stored ledger chunk by chunk against its anchored head."""
    ledger = LedgerStore(session)
    head_seq, head_hash = await ledger.head()
    after: tuple[int, str] = (0, GENESIS_HASH)
    checked = 0
    async for entries in ledger.chunks(chunk):
        result = verify(entries, after=after)
        if not result.ok:
            return AuditResult(
                Verification(
                    ok=False,
                    checked=checked + result.checked,
                    problem=result.problem,
                    seq=result.seq,
                    message=result.message,
                ),
                head_hash,
                head_seq,
            )
        checked += result.checked
        after = (entries[-1].seq, entries[-1].hash)
    final = verify([], expected_head=head_hash, after=after)
    if not final.ok:
        message = (
            f"the chain ends at entry {after[0]} but the anchored head is entry {head_seq}: "
            f"entries {after[0] + 1}-{head_seq} were deleted"
            if head_seq > after[0]
            else final.message
        )
        return AuditResult(
            Verification(
                ok=False,
                checked=checked,
                problem=Problem.TRUNCATED,
                seq=after[0] + 1 if head_seq > after[0] else after[0],
                message=message,
            ),
            head_hash,
            head_seq,
        )
    return AuditResult(Verification(ok=True, checked=checked), head_hash, head_seq)
