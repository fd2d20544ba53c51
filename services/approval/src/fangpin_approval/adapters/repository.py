"""Loading and saving approval's aggregates (cases, register entries) and the audit ledger."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from fangpin_approval.adapters.orm import (
    BreachRow,
    CaseActionRow,
    CaseRow,
    LedgerEntryRow,
    LedgerHeadRow,
    RegisterChangeRow,
    RegisterRow,
)
from fangpin_approval.domain.actors import Actor, Level, county_of, town_of
from fangpin_approval.domain.case import (
    Action,
    Case,
    CaseAction,
    CaseStatus,
    GreenChannel,
    GreenChannelState,
)
from fangpin_approval.domain.codes import (
    Category,
    EliminationMode,
    Exclusion,
    RegisterStatus,
    RiskType,
)
from fangpin_approval.domain.deadlines import Deadline, DueDates
from fangpin_approval.domain.errors import Conflict
from fangpin_approval.domain.ledger import (
    GENESIS_HASH,
    LedgerEntry,
    canonical_json,
    entry_hash,
)
from fangpin_approval.domain.parameters import ProcedureParameters
from fangpin_approval.domain.procedure import DEFAULT_FLOWS, FlowKind, FlowRegistry, Step
from fangpin_approval.domain.register import MonitoredHousehold, StatusChange
from fangpin_kit.paging import Keyset, Page, PageRequest

LEDGER_HEAD_ID = 1

# Core tables: the hot paths (load, save, list, sign) run prebuilt Core statements, whose
# compiled form SQLAlchemy caches, instead of ORM unit-of-work machinery.
CASES: sa.Table = CaseRow.__table__  # type: ignore[attr-defined]
ACTIONS: sa.Table = CaseActionRow.__table__  # type: ignore[attr-defined]
BREACHES: sa.Table = BreachRow.__table__  # type: ignore[attr-defined]
REGISTER: sa.Table = RegisterRow.__table__  # type: ignore[attr-defined]
REGISTER_HISTORY: sa.Table = RegisterChangeRow.__table__  # type: ignore[attr-defined]
LEDGER: sa.Table = LedgerEntryRow.__table__  # type: ignore[attr-defined]
LEDGER_HEAD: sa.Table = LedgerHeadRow.__table__  # type: ignore[attr-defined]

_CASE_BY_ID = sa.select(CASES).where(CASES.c.case_id == sa.bindparam("case_id"))
_ACTIONS_OF = (
    sa.select(ACTIONS).where(ACTIONS.c.case_id == sa.bindparam("case_id")).order_by(ACTIONS.c.seq)
)
_VERSION_OF = sa.select(CASES.c.version).where(CASES.c.case_id == sa.bindparam("case_id"))
# SET columns come from the parameters' keys; `_case_id`/`_loaded` are the compare-and-set
_CASE_UPDATE = CASES.update().where(
    CASES.c.case_id == sa.bindparam("_case_id"), CASES.c.version == sa.bindparam("_loaded")
)
_OPEN_CASE_OF = sa.select(CASES.c.case_id).where(
    CASES.c.household_id == sa.bindparam("household_id"), CASES.c.status == "open"
)
_REGISTER_BY_ID = sa.select(REGISTER).where(REGISTER.c.household_id == sa.bindparam("household_id"))
_REGISTER_HISTORY_OF = (
    sa.select(REGISTER_HISTORY)
    .where(REGISTER_HISTORY.c.household_id == sa.bindparam("household_id"))
    .order_by(REGISTER_HISTORY.c.n)
)
_REGISTER_UPDATE = REGISTER.update().where(
    REGISTER.c.household_id == sa.bindparam("_household_id"),
    REGISTER.c.version == sa.bindparam("_loaded"),
)
_LEDGER_MOVE_HEAD = (
    LEDGER_HEAD.update()
    .where(LEDGER_HEAD.c.id == LEDGER_HEAD_ID)
    .values(seq=LEDGER_HEAD.c.seq + sa.bindparam("n", type_=sa.Integer))
    .returning(LEDGER_HEAD.c.seq, LEDGER_HEAD.c.hash)
)
_LEDGER_SET_HEAD = (
    LEDGER_HEAD.update()
    .where(LEDGER_HEAD.c.id == LEDGER_HEAD_ID)
    .values(hash=sa.bindparam("head_hash"))
)

Row = Any  # a Core result row of one of the tables above (attribute access by column)

# Columns a saved case never changes (identity, rules and the snapshot it started with).
_CASE_IMMUTABLE = frozenset(
    {
        "case_id",
        "kind",
        "household_id",
        "county",
        "town",
        "village",
        "flow_version",
        "ruleset",
        "params",
        "source",
        "clue_on",
        "opened_at",
        "household",
    }
)


@dataclass
class _Loaded:
    """What a repository saw when it loaded an aggregate: the compare-and-set baseline."""

    version: int
    actions: int


class CaseRepository:
    """Cases with their timeline and breach records; saves compare-and-set on `version`."""

    def __init__(self, session: AsyncSession, flows: FlowRegistry = DEFAULT_FLOWS) -> None:
        self.session = session
        self.flows = flows
        self._loaded: dict[str, _Loaded] = {}
        self._snapshots: dict[str, dict[str, Any] | None] = {}

    async def get(self, case_id: str) -> Case | None:
        row = (await self.session.execute(_CASE_BY_ID, {"case_id": case_id})).first()
        if row is None:
            return None
        actions = await self.session.execute(_ACTIONS_OF, {"case_id": case_id})
        case = self.to_case(row, [_to_action(a) for a in actions])
        self._loaded[case_id] = _Loaded(case.version, len(case.history))
        self._snapshots[case_id] = row.household
        return case

    def household_snapshot(self, case_id: str) -> dict[str, Any] | None:
        """The household record the case was opened with (loaded or added cases only)."""
        return self._snapshots.get(case_id)

    async def open_case_of(self, household_id: str) -> Case | None:
        """The household's open case, if any (there is at most one)."""
        case_id = await open_case_id(self.session, household_id)
        return await self.get(case_id) if case_id else None

    async def add(self, case: Case, *, household: Mapping[str, Any] | None, source: str) -> None:
        """Insert a newly opened case with its timeline so far."""
        values = new_case_values(case, household=household, source=source)
        await self.session.execute(CASES.insert(), [values])
        await self._insert_children(case, 0)
        self._loaded[case.id] = _Loaded(case.version, len(case.history))
        self._snapshots[case.id] = values["household"]

    async def save(self, case: Case) -> None:
        """Write a loaded case back; Conflict when someone saved it since it was loaded."""
        loaded = self._loaded[case.id]
        if case.version == loaded.version:
            return
        values = {k: v for k, v in case_values(case).items() if k not in _CASE_IMMUTABLE}
        result = await self.session.execute(
            _CASE_UPDATE, values | {"_case_id": case.id, "_loaded": loaded.version}
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            actual = (await self.session.execute(_VERSION_OF, {"case_id": case.id})).scalar()
            raise Conflict(case.id, loaded.version, actual if actual is not None else -1)
        await self._insert_children(case, loaded.actions)
        self._loaded[case.id] = _Loaded(case.version, len(case.history))

    def new_actions(self, case: Case) -> list[CaseAction]:
        """Actions taken since the case was loaded (or added)."""
        loaded = self._loaded.get(case.id)
        return case.history[loaded.actions if loaded else 0 :]

    async def _insert_children(self, case: Case, saved_actions: int) -> None:
        """Insert the new timeline entries, and a breach record for each overdue mark among
        them (the sweeps' queries skip reported breaches by these)."""
        actions = case.history[saved_actions:]
        if actions:
            await self.session.execute(ACTIONS.insert(), [action_values(a) for a in actions])
        rows = []
        for action in actions:
            key = action.details.get("breach_key") if action.action is Action.MARK_OVERDUE else None
            if key is None:
                continue
            _, deadline, due_on = str(key).rsplit(":", 2)  # `<case>:<deadline>:<due date>`
            rows.append(
                {
                    "case_id": case.id,
                    "breach_key": key,
                    "deadline": deadline,
                    "due_on": dt.date.fromisoformat(due_on),
                    "escalate_to": action.details["escalate_to"],
                    "detected_at": action.at,
                }
            )
        if rows:
            await self.session.execute(BREACHES.insert(), rows)

    def to_case(self, row: Row, history: list[CaseAction]) -> Case:
        """The aggregate of a stored `cases` row with its timeline; the breaches already
        reported are the overdue marks in it."""
        kind = FlowKind(row.kind)
        green = row.green_channel or {}
        entered = green.get("entered_on")
        return Case(
            id=row.case_id,
            kind=kind,
            household_id=row.household_id,
            region=row.village,
            flow=self.flows.get(kind, row.flow_version),
            params=ProcedureParameters.from_values(row.params, ruleset=row.ruleset),
            clue_on=row.clue_on,
            opened_at=row.opened_at,
            step=Step(row.step),
            due=DueDates(
                verification=row.due_verification,
                approval=row.due_approval,
                notice_last_day=row.due_notice_last_day,
                green_channel=row.due_green_channel,
                system_entry=row.due_system_entry,
                plan=row.due_plan,
            ),
            status=CaseStatus(row.status),
            version=row.version,
            category=Category(row.category) if row.category else None,
            risk_types=tuple(RiskType(r) for r in row.risk_types),
            exclusions=tuple(Exclusion(e) for e in row.exclusions),
            elimination_mode=EliminationMode(row.elimination_mode)
            if row.elimination_mode
            else None,
            measures=tuple(row.measures),
            special_reason=row.special_reason,
            notice_published_on=row.notice_published_on,
            verified_on=row.verified_on,
            green_channel=GreenChannel(
                state=GreenChannelState(row.green_state),
                confirmations={Level(k): v for k, v in green.get("confirmations", {}).items()},
                reasons=list(green.get("reasons", [])),
                entered_on=dt.date.fromisoformat(entered) if entered else None,
            ),
            system_entry_on=row.system_entry_on,
            decided_at=row.decided_at,
            history=history,
            breaches={
                str(a.details["breach_key"])
                for a in history
                if a.action is Action.MARK_OVERDUE and "breach_key" in a.details
            },
        )


async def open_case_id(session: AsyncSession, household_id: str) -> str | None:
    """Id of the household's open case, if any (a partial unique index allows one)."""
    return (
        await session.execute(_OPEN_CASE_OF, {"household_id": household_id})
    ).scalar_one_or_none()


def new_case_values(
    case: Case, *, household: Mapping[str, Any] | None, source: str
) -> dict[str, Any]:
    """The `cases` row of a newly opened case (bulk loaders insert these directly)."""
    return case_values(case) | {
        "params": params_record(case.params),
        "source": source[:60],
        "household": dict(household) if household is not None else None,
    }


def params_record(params: ProcedureParameters) -> dict[str, Any]:
    """The parameters a case keeps, as stored (ProcedureParameters.from_values reads it back)."""
    return {
        "flow_version": params.flow_version,
        "verification_working_days": params.verification_working_days,
        "verification_min_cadres": params.verification_min_cadres,
        "notice_min_days": params.notice_min_days,
        "approval_limit": params.approval_limit,
        "approval_limit_unit": params.approval_limit_unit.value,
        "system_entry_days": params.system_entry_days,
        "plan_due_days": params.plan_due_days,
        "green_channel_months": params.green_channel_months,
        "escalation": {k.value: v.value for k, v in params.escalation.items()},
    }


def case_values(case: Case) -> dict[str, Any]:
    """The `cases` columns of a case, as saved (the wire form is built from them too)."""
    green = case.green_channel
    return {
        "case_id": case.id,
        "kind": case.kind.value,
        "household_id": case.household_id,
        "county": county_of(case.region),
        "town": town_of(case.region),
        "village": case.region,
        "step": case.step.value,
        "status": case.status.value,
        "version": case.version,
        "flow_version": case.flow.version,
        "ruleset": case.params.ruleset,
        "clue_on": case.clue_on,
        "opened_at": case.opened_at,
        "category": case.category.value if case.category else None,
        "risk_types": [r.value for r in case.risk_types],
        "exclusions": [e.value for e in case.exclusions],
        "elimination_mode": case.elimination_mode.value if case.elimination_mode else None,
        "measures": list(case.measures),
        "special_reason": case.special_reason,
        "notice_published_on": case.notice_published_on,
        "verified_on": case.verified_on,
        "green_state": green.state.value,
        "green_channel": {
            "confirmations": {k.value: v for k, v in green.confirmations.items()},
            "reasons": list(green.reasons),
            "entered_on": green.entered_on.isoformat() if green.entered_on else None,
        },
        "system_entry_on": case.system_entry_on,
        "decided_at": case.decided_at,
        "due_verification": case.due.verification,
        "due_approval": case.due.approval,
        "due_notice_last_day": case.due.notice_last_day,
        "due_green_channel": case.due.green_channel,
        "due_system_entry": case.due.system_entry,
        "due_plan": case.due.plan,
    }


def action_values(action: CaseAction) -> dict[str, Any]:
    """The `case_actions` row of one timeline entry."""
    return {
        "case_id": action.case_id,
        "seq": action.seq,
        "action": action.action.value,
        "at": action.at,
        "step": action.step.value,
        "to_step": action.to_step.value,
        "actor": action.actor.as_record() if action.actor else None,
        "co_signers": [a.as_record() for a in action.co_signers],
        "comment": action.comment,
        "attachments": list(action.attachments),
        "reason": action.reason,
        "details": dict(action.details),
    }


def actor_from_record(record: Mapping[str, Any]) -> Actor:
    return Actor(
        id=record["id"],
        name=record["name"],
        role=record.get("role", ""),
        level=Level(record["level"]),
        region=record["region"],
    )


def _to_action(row: Row) -> CaseAction:
    return CaseAction(
        case_id=row.case_id,
        seq=row.seq,
        action=Action(row.action),
        at=row.at,
        step=Step(row.step),
        to_step=Step(row.to_step),
        actor=actor_from_record(row.actor) if row.actor else None,
        comment=row.comment,
        attachments=tuple(row.attachments),
        co_signers=tuple(actor_from_record(a) for a in row.co_signers),
        reason=row.reason,
        details=dict(row.details),
    )


async def case_timeline(session: AsyncSession, case_id: str) -> list[Row]:
    """The stored timeline of a case, oldest first."""
    return list(await session.execute(_ACTIONS_OF, {"case_id": case_id}))


def region_column(table: sa.Table, region: str) -> Any:
    """The column a 6-, 9- or 12-digit region code filters on; ValueError otherwise."""
    columns = {6: table.c.county, 9: table.c.town, 12: table.c.village}
    if not (region.isascii() and region.isdigit() and len(region) in columns):
        raise ValueError("region: a county (6), town (9) or village (12) digit code")
    return columns[len(region)]


def overdue_clause(today: dt.date) -> Any:
    """SQL condition: a running time limit of the case has passed by `today` (China date)."""
    c = CASES.c
    open_ = c.status == CaseStatus.OPEN.value
    return sa.or_(
        sa.and_(open_, c.due_approval < today),
        sa.and_(open_, c.verified_on.is_(None), c.due_verification < today),
        sa.and_(
            c.status == CaseStatus.APPROVED.value,
            c.system_entry_on.is_(None),
            c.due_system_entry < today,
        ),
    )


def overdue_on(case: Mapping[str, Any], today: dt.date) -> bool:
    """The Python twin of `overdue_clause` for one stored case (its columns by name)."""
    if case["status"] == CaseStatus.OPEN.value:
        return case["due_approval"] < today or (
            case["verified_on"] is None and case["due_verification"] < today
        )
    system_entry = case["due_system_entry"]
    return (
        case["status"] == CaseStatus.APPROVED.value
        and case["system_entry_on"] is None
        and system_entry is not None
        and system_entry < today
    )


# What a queue shows: not the household snapshot, the kept parameters, the green channel's
# confirmations (its state is a column) or the measures; JSON decoding dominates a listing.
_LIST_OMITS = ("household", "params", "green_channel", "measures")
_LIST_COLUMNS = [c for c in CASES.c if c.name not in _LIST_OMITS]
# Queues by opening time (the queue indexes end with these two columns), newest first unless
# asked otherwise; the case id breaks ties.
CASE_KEYSET = Keyset("approval.cases", CASES.c.opened_at, CASES.c.case_id)


async def list_cases(
    session: AsyncSession,
    *,
    today: dt.date,
    page: PageRequest,
    region: str = "",
    step: str = "",
    status: str = "",
    kind: str = "",
    household_id: str = "",
    overdue_only: bool = False,
) -> Page[Row]:
    """One page of a queue of cases in CASE_KEYSET order (no timelines, no snapshots)."""
    c = CASES.c
    query = sa.select(*_LIST_COLUMNS)
    if region:
        query = query.where(region_column(CASES, region) == region)
    if status:
        query = query.where(c.status == status)
    if step:
        query = query.where(c.step == step)
    if kind:
        query = query.where(c.kind == kind)
    if household_id:
        query = query.where(c.household_id == household_id)
    if overdue_only:
        query = query.where(overdue_clause(today))
    rows = list(await session.execute(CASE_KEYSET.apply(query, page)))
    return CASE_KEYSET.page(rows, page)


async def case_row(session: AsyncSession, case_id: str) -> Row | None:
    return (await session.execute(_CASE_BY_ID, {"case_id": case_id})).first()


def _no_breach(deadline: Deadline, due_column: Any) -> Any:
    return ~sa.exists().where(
        BREACHES.c.case_id == CASES.c.case_id,
        BREACHES.c.deadline == deadline.value,
        BREACHES.c.due_on == due_column,
    )


async def overdue_candidates(session: AsyncSession, today: dt.date, limit: int) -> list[str]:
    """Cases with a passed time limit not yet reported (each breach is reported once)."""
    c = CASES.c
    open_ = c.status == CaseStatus.OPEN.value
    query = (
        sa.select(c.case_id)
        .where(
            sa.or_(
                sa.and_(
                    open_,
                    c.due_approval < today,
                    _no_breach(Deadline.APPROVAL, c.due_approval),
                ),
                sa.and_(
                    open_,
                    c.verified_on.is_(None),
                    c.due_verification < today,
                    _no_breach(Deadline.VERIFICATION, c.due_verification),
                ),
                sa.and_(
                    c.status == CaseStatus.APPROVED.value,
                    c.system_entry_on.is_(None),
                    c.due_system_entry < today,
                    _no_breach(Deadline.SYSTEM_ENTRY, c.due_system_entry),
                ),
            )
        )
        .order_by(c.due_approval, c.case_id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def green_channel_candidates(session: AsyncSession, today: dt.date, limit: int) -> list[str]:
    """Open cases whose green channel ran out before approval."""
    c = CASES.c
    query = (
        sa.select(c.case_id)
        .where(
            c.green_state == GreenChannelState.OPEN.value,
            c.status == CaseStatus.OPEN.value,
            c.due_green_channel < today,
        )
        .order_by(c.due_green_channel, c.case_id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def noticed_cases(
    session: AsyncSession, village: str, published_on: dt.date | None
) -> list[Row]:
    """Cases of a village whose public notice started on `published_on` (default: the latest)."""
    c = CASES.c
    if published_on is None:
        published_on = (
            await session.execute(
                sa.select(sa.func.max(c.notice_published_on)).where(c.village == village)
            )
        ).scalar_one_or_none()
        if published_on is None:
            return []
    query = (
        sa.select(CASES)
        .where(c.village == village, c.notice_published_on == published_on)
        .order_by(c.kind.desc(), c.opened_at, c.case_id)
    )
    return list(await session.execute(query))


class RegisterRepository:
    """Register entries and their history; saves compare-and-set on `version`."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._loaded: dict[str, tuple[int, int]] = {}  # version, history length

    async def get(self, household_id: str) -> MonitoredHousehold | None:
        row = await self.row(household_id)
        if row is None:
            return None
        history = await self.session.execute(_REGISTER_HISTORY_OF, {"household_id": household_id})
        entry = _to_entry(row, [_to_change(h) for h in history])
        self._loaded[household_id] = (row.version, len(entry.history))
        return entry

    async def row(self, household_id: str) -> Row | None:
        return (await self.session.execute(_REGISTER_BY_ID, {"household_id": household_id})).first()

    async def set_snapshot(self, household_id: str, household: Mapping[str, Any]) -> None:
        """Keep the latest household record screening sent (not a register state change)."""
        await self.session.execute(
            REGISTER.update()
            .where(REGISTER.c.household_id == household_id)
            .values(household=dict(household))
        )

    async def save(
        self,
        entry: MonitoredHousehold,
        *,
        at: dt.datetime,
        household: Mapping[str, Any] | None = None,
    ) -> None:
        """Insert (with the household record) or update an entry; Conflict when it changed
        since it was loaded (the record is then kept current by `set_snapshot`)."""
        values = {
            "household_id": entry.household_id,
            "county": county_of(entry.region),
            "town": town_of(entry.region),
            "village": entry.region,
            "status": entry.status.value,
            "category": entry.category.value if entry.category else None,
            "risk_types": [r.value for r in entry.risk_types],
            "identified_on": entry.identified_on,
            "green_channel": entry.green_channel,
            "eliminated_on": entry.eliminated_on,
            "elimination_mode": entry.elimination_mode.value if entry.elimination_mode else None,
            "held_reason": entry.held_reason,
            "updated_at": at,
        }
        loaded = self._loaded.get(entry.household_id)
        if loaded is None:
            snapshot = dict(household) if household is not None else None
            await self.session.execute(
                REGISTER.insert(), [values | {"version": 1, "household": snapshot}]
            )
            saved_history, version = 0, 1
        else:
            result = await self.session.execute(
                _REGISTER_UPDATE,
                values
                | {
                    "version": loaded[0] + 1,
                    "_household_id": entry.household_id,
                    "_loaded": loaded[0],
                },
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict(f"register:{entry.household_id}", loaded[0], loaded[0] + 1)
            saved_history, version = loaded[1], loaded[0] + 1
        changes = entry.history[saved_history:]
        if changes:
            await self.session.execute(
                REGISTER_HISTORY.insert(),
                [
                    {
                        "household_id": entry.household_id,
                        "n": saved_history + i + 1,
                        "on": c.on,
                        "from_status": c.from_status.value if c.from_status else None,
                        "to_status": c.to_status.value,
                        "case_id": c.case_id,
                        "reason": c.reason,
                        "actor_id": c.actor_id,
                    }
                    for i, c in enumerate(changes)
                ],
            )
        self._loaded[entry.household_id] = (version, len(entry.history))


def _to_entry(row: Row, history: list[StatusChange]) -> MonitoredHousehold:
    return MonitoredHousehold(
        household_id=row.household_id,
        region=row.village,
        status=RegisterStatus(row.status),
        category=Category(row.category) if row.category else None,
        risk_types=tuple(RiskType(r) for r in row.risk_types),
        identified_on=row.identified_on,
        green_channel=row.green_channel,
        eliminated_on=row.eliminated_on,
        elimination_mode=EliminationMode(row.elimination_mode) if row.elimination_mode else None,
        held_reason=row.held_reason,
        history=history,
    )


def _to_change(row: Row) -> StatusChange:
    return StatusChange(
        on=row.on,
        from_status=RegisterStatus(row.from_status) if row.from_status else None,
        to_status=RegisterStatus(row.to_status),
        case_id=row.case_id,
        reason=row.reason,
        actor_id=row.actor_id,
    )


async def register_history(session: AsyncSession, household_id: str) -> list[Row]:
    return list(await session.execute(_REGISTER_HISTORY_OF, {"household_id": household_id}))


# The register by last change: newest first for cadres, oldest first to follow changes (an
# entry changed during a walk comes again at the end with its new state, never skipped).
REGISTER_KEYSET = Keyset("approval.register", REGISTER.c.updated_at, REGISTER.c.household_id)


async def list_register(
    session: AsyncSession, *, page: PageRequest, region: str = "", status: str = ""
) -> Page[Row]:
    """One page of register entries (without the household snapshot), in REGISTER_KEYSET order."""
    c = REGISTER.c
    query = sa.select(*[col for col in REGISTER.c if col.name != "household"])
    if region:
        query = query.where(region_column(REGISTER, region) == region)
    if status:
        query = query.where(c.status == status)
    rows = list(await session.execute(REGISTER_KEYSET.apply(query, page)))
    return REGISTER_KEYSET.page(rows, page)


class LedgerStore:
    """The audit ledger in the store: appends chain after the locked head, nothing is updated.

    Every append first moves the head row (`UPDATE ... RETURNING`), which takes its row lock on
    PostgreSQL and the write lock on SQLite: concurrent transactions chain one after another.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(self, records: Sequence[tuple[Mapping[str, Any], dt.datetime]]) -> None:
        if not records:
            return
        moved = (await self.session.execute(_LEDGER_MOVE_HEAD, {"n": len(records)})).first()
        if moved is None:
            raise RuntimeError("audit ledger head row is missing: the store was not migrated")
        seq = moved.seq - len(records)
        prev = moved.hash
        rows = []
        for record, at in records:
            if at.tzinfo is None:
                raise ValueError("ledger timestamps carry a time zone")
            seq += 1
            text = canonical_json(dict(record)).decode("utf-8")
            clean = json.loads(text)
            stamp = at.isoformat()
            digest = entry_hash(seq, stamp, clean, prev)
            rows.append(
                {
                    "seq": seq,
                    "recorded_at": stamp,
                    "record": text,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev = digest
        await self.session.execute(LEDGER.insert(), rows)
        await self.session.execute(_LEDGER_SET_HEAD, {"head_hash": prev})

    async def head(self) -> tuple[int, str]:
        row = (
            await self.session.execute(
                sa.select(LEDGER_HEAD.c.seq, LEDGER_HEAD.c.hash).where(
                    LEDGER_HEAD.c.id == LEDGER_HEAD_ID
                )
            )
        ).one_or_none()
        return (row.seq, row.hash) if row else (0, GENESIS_HASH)

    async def chunks(self, size: int = 5000) -> AsyncIterator[list[LedgerEntry]]:
        """Every entry in seq order, `size` at a time (a record that is not JSON stays text)."""
        after = 0
        while True:
            rows = await self.session.execute(
                sa.select(LEDGER).where(LEDGER.c.seq > after).order_by(LEDGER.c.seq).limit(size)
            )
            chunk = [_to_entry_of_ledger(r) for r in rows]
            if not chunk:
                return
            yield chunk
            after = chunk[-1].seq

    async def count(self) -> int:
        return int(
            (
                await self.session.execute(sa.select(sa.func.count()).select_from(LEDGER))
            ).scalar_one()
        )


def _to_entry_of_ledger(row: Row) -> LedgerEntry:
    try:
        record = json.loads(row.record)
    except json.JSONDecodeError:
        record = {"unreadable": row.record}
    if not isinstance(record, dict):
        record = {"unreadable": row.record}
    return LedgerEntry(
        seq=row.seq,
        recorded_at=row.recorded_at,
        record=record,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


async def counts(session: AsyncSession) -> dict[str, int]:
    """What approval holds, for operators (`cases_open` and `monitored` feed `make run`)."""
    out: dict[str, int] = {"cases": 0, "cases_open": 0}
    for status, n in await session.execute(
        sa.select(CASES.c.status, sa.func.count()).group_by(CASES.c.status)
    ):
        out["cases"] += n
        out[f"cases_{status}"] = n
    for status in RegisterStatus:
        out[status.value] = 0
    for status, n in await session.execute(
        sa.select(REGISTER.c.status, sa.func.count()).group_by(REGISTER.c.status)
    ):
        out[status] = n
    out["green_channel"] = int(
        (
            await session.execute(
                sa.select(sa.func.count())
                .select_from(REGISTER)
                .where(REGISTER.c.green_channel.is_(True))
            )
        ).scalar_one()
    )
    out["ledger_entries"] = await LedgerStore(session).count()
    return out
