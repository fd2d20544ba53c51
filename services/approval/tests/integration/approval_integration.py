"""Helpers of approval's integration tests: households, decisions, actors, a movable clock."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from fangpin_approval.adapters.orm import LedgerEntryRow
from fangpin_approval.adapters.rules import procedure_rules_provider
from fangpin_approval.domain.actors import Actor, Level
from fangpin_approval.service_layer.handlers import ApprovalContext
from fangpin_contracts.cloudevents import CloudEvent, new_event
from fangpin_kit.clock import ManualClock
from fangpin_kit.db import Database
from fangpin_kit.settings import repo_root
from fangpin_kit.workdays import default_calendar

COUNTY = "652827"
TOWN = "652827100"
VILLAGE = "652827100201"
OTHER_VILLAGE = "652827100202"
CHINA = dt.timezone(dt.timedelta(hours=8))
# Monday 2024-03-04, 09:00 in China: a week without holidays ahead.
START = dt.datetime(2024, 3, 4, 9, tzinfo=CHINA)

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


class Clock(ManualClock):
    """The kit's manual clock, starting at START unless told otherwise."""

    def __init__(self, now: dt.datetime = START) -> None:
        super().__init__(now)


def make_context(clock: Clock, county: str = COUNTY) -> ApprovalContext:
    return ApprovalContext(
        county=county,
        procedure=procedure_rules_provider(repo_root() / "rulesets", county[:2]),
        calendar=default_calendar(),
        clock=clock,
    )


def id_number(birth: str, serial: int) -> str:
    body = f"{COUNTY}{birth.replace('-', '')}{serial:03d}"
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True)) % 11]
    return body + check


def household(
    household_id: str = "H00001",
    village: str = VILLAGE,
    *,
    safety_net: str = "none",
    labor: str = "full",
) -> dict[str, Any]:
    """A valid household record (v1) of two members; the head is 张三丰."""
    return {
        "household_id": household_id,
        "region": {"county": village[:6], "town": village[:9], "village": village},
        "members": [
            {
                "id_number": id_number("1970-03-07", 11),
                "name": "张三丰",
                "relation": "head",
                "birth_date": "1970-03-07",
                "labor_capacity": labor,
            },
            {
                "id_number": id_number("1972-08-19", 22),
                "name": "李四娘",
                "relation": "spouse",
                "birth_date": "1972-08-19",
                "labor_capacity": labor,
            },
        ],
        "income": {"wage": 6000, "transfer": 1200},
        "safety_net": safety_net,
    }


def decision(
    household_id: str = "H00001",
    decision_id: str = "D-1",
    *,
    as_of: str = "2024-03-04",
    in_scope: bool = True,
    excluded_by: tuple[str, ...] = (),
    category: str | None = "marginal",
    risk_types: tuple[str, ...] = ("illness", "education"),
    village: str = VILLAGE,
    county: str = COUNTY,
    record: dict[str, Any] | None = None,
) -> CloudEvent:
    """A `screening.decided` event as screening publishes it (CONTRACT section 3 decision)."""
    eligible = in_scope and not excluded_by
    record = record or household(household_id, village)
    record["region"]["county"] = county
    payload = {
        "decision_id": decision_id,
        "clue_id": f"CL-{decision_id}",
        "household_id": household_id,
        "region": {"county": county, "town": village[:9], "village": village},
        "reason": "clue",
        "decision": {
            "household_id": household_id,
            "as_of": as_of,
            "ruleset": "cn@2024-01-01",
            "in_scope": in_scope,
            "eligible": eligible,
            "category": category if in_scope else None,
            "risk_types": list(risk_types) if in_scope else [],
            "excluded_by": sorted(excluded_by),
            "needs_appraisal": in_scope and bool(excluded_by),
            "referrals": [],
            "per_capita": 3600.0,
            "adjusted_per_capita": 3600.0,
            "threshold": 7300,
            "trace": [],
        },
        "household": record,
    }
    return new_event(
        domain="screening",
        event="decided",
        county=county,
        source="test",
        data=payload,
        subject=household_id,
        event_id=f"{decision_id}.decided",
    )


def actors(household_id: str = "H00001", village: str = VILLAGE) -> dict[str, Actor]:
    town = village[:9]
    return {
        "household": Actor(household_id, "张三丰", "household_head", Level.HOUSEHOLD, village),
        "village": Actor("V-01", "李支书", "village_secretary", Level.VILLAGE, village),
        "village2": Actor("V-02", "周文书", "village_clerk", Level.VILLAGE, village),
        "town": Actor("T-01", "赵镇长", "town_officer", Level.TOWN, town),
        "county": Actor("C-01", "钱局长", "county_bureau", Level.COUNTY, village[:6]),
        "other_village": Actor("V-09", "吴支书", "village_secretary", Level.VILLAGE, OTHER_VILLAGE),
    }


async def committed(db: Database, work: Any) -> tuple[Any, list[tuple[str, CloudEvent]]]:
    """Run `work(uow)` in a unit of work, commit, and return its result and staged events."""
    async with db.uow() as uow:
        result = await work(uow)
        emitted = uow.emitted
        await uow.commit()
    return result, emitted


async def ledger_records(db: Database) -> list[dict[str, Any]]:
    """The stored ledger's records in order, each with its `_seq`."""
    async with db.sessions() as session:
        rows = (
            await session.execute(sa.select(LedgerEntryRow).order_by(LedgerEntryRow.seq))
        ).scalars()
        return [json.loads(r.record) | {"_seq": r.seq} for r in rows]


async def outbox(db: Database, name: str | None = None) -> list[CloudEvent]:
    """Events committed to the outbox, oldest first; `name` filters on `case.<name>`."""
    table = db.tables.outbox
    async with db.sessions() as session:
        rows = (await session.execute(sa.select(table).order_by(table.c.seq))).all()
    events = [CloudEvent.model_validate_json(r.payload) for r in rows]
    if name is None:
        return events
    return [e for e in events if e.type == f"cn.fangpin.case.{name}.v1"]


async def tamper(db: Database, statement: str) -> None:
    """Run `statement` against the ledger as an intruder with DDL rights would: with the
    append-only triggers out of the way first."""
    async with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(
                sa.text("ALTER TABLE audit_ledger DISABLE TRIGGER audit_ledger_append_only")
            )
        else:
            await conn.execute(sa.text("DROP TRIGGER IF EXISTS audit_ledger_no_update"))
            await conn.execute(sa.text("DROP TRIGGER IF EXISTS audit_ledger_no_delete"))
        await conn.execute(sa.text(statement))
