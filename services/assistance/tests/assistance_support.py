"""Builders and a movable clock for assistance's store and bus tests."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from fangpin_assistance.adapters.rules import assistance_rules_provider, county_catalog
from fangpin_assistance.service_layer.handlers import AssistanceContext
from fangpin_cli.demo import id_number
from fangpin_contracts.cloudevents import CloudEvent, new_event
from fangpin_kit.clock import ManualClock, china_date
from fangpin_kit.db import Database
from fangpin_kit.settings import repo_root

COUNTY = "652827"
T0 = datetime(2024, 5, 6, 2, 0, tzinfo=UTC)  # Monday 10:00 in China


class FakeClock(ManualClock):
    """The kit's manual clock, starting at T0 unless told otherwise."""

    def __init__(self, start: datetime = T0) -> None:
        super().__init__(start)


def context(clock: FakeClock, county: str = COUNTY, lookahead: int = 30) -> AssistanceContext:
    """The real national parameters and baseline catalog, with the test's clock."""
    return AssistanceContext(
        county=county,
        params_on=assistance_rules_provider(
            repo_root() / "rulesets", county[:2], check_on=china_date(clock.now)
        ),
        catalog=county_catalog(),
        clock=clock,
        task_lookahead_days=lookahead,
    )


def member(n: int, county: str, born: date, relation: str, **facts: Any) -> dict[str, Any]:
    return {
        "id_number": id_number(county, born, n),
        "name": f"成员{n}",
        "relation": relation,
        "birth_date": born.isoformat(),
        **facts,
    }


def household(household_id: str = "H00001", county: str = COUNTY, **extra: Any) -> dict[str, Any]:
    """A household of two adults able to work; `extra` overrides record fields."""
    record: dict[str, Any] = {
        "household_id": household_id,
        "region": {"county": county, "town": f"{county}100", "village": f"{county}100011"},
        "members": [
            member(11, county, date(1980, 1, 11), "head"),
            member(12, county, date(1982, 3, 5), "spouse"),
        ],
        "income": {"wage": 3000, "business": 1000},
    }
    record.update(copy.deepcopy(extra))
    return record


def ill_household_in_unsafe_house(household_id: str = "H00001", county: str = COUNTY) -> dict:
    """Illness and an unsafe house: the plan goes to medical insurance, housing and hrss."""
    record = household(household_id, county, housing_safe=False)
    record["members"][0]["illness"] = "serious"
    return record


def case_decided(
    record: dict[str, Any],
    *,
    case_id: str = "C-1",
    outcome: str = "approved",
    kind: str = "identification",
    risk_types: tuple[str, ...] = ("illness", "housing"),
    category: str | None = "marginal",
    green_channel: bool = False,
    reason: str | None = None,
    event_id: str | None = None,
    at: datetime = T0,
    with_household: bool = True,
) -> CloudEvent:
    region = record["region"]
    data = {
        "case_id": case_id,
        "kind": kind,
        "household_id": record["household_id"],
        "region": region,
        "step": "county_approval",
        "status": "decided",
        "flow_version": "cn@2024-01-01",
        "category": category,
        "risk_types": list(risk_types),
        "outcome": outcome,
        "green_channel": green_channel,
        "reason": reason,
        "household": record if with_household else None,
    }
    return new_event(
        domain="case",
        event="decided",
        county=region["county"],
        source="test/approval",
        data=data,
        subject=record["household_id"],
        event_id=event_id or f"{case_id}.decided.{outcome}",
        time=at,
    )


def reply(
    kind: str,
    measure_id: str,
    dept: str,
    *,
    event_id: str,
    county: str = COUNTY,
    reason: str | None = None,
    dispatch_id: str | None = None,
    term_end: date | None = None,
    at: datetime = T0,
) -> CloudEvent:
    data: dict[str, Any] = {"measure_id": measure_id, "dept": dept, "reason": reason}
    if dispatch_id:
        data["dispatch_id"] = dispatch_id
    if term_end:
        data["term_end"] = term_end.isoformat()
    return new_event(
        domain="measure",
        event=kind,
        county=county,
        source=f"test/{dept}",
        data=data,
        event_id=event_id,
        time=at,
    )


async def rows(db: Database, table: type, *where: Any) -> list[Any]:
    async with db.sessions() as session:
        query = sa.select(table).where(*where) if where else sa.select(table)
        return list((await session.execute(query)).scalars())
