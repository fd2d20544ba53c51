"""Helpers of screening's integration tests: households, bus events, a clock, a registry."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from fangpin_cli.demo import id_number
from fangpin_contracts.cloudevents import CloudEvent, new_event
from fangpin_contracts.events import (
    CaseEvent,
    ClueAccepted,
    IncomeRecorded,
    MeasureDispatched,
    MeasureReply,
    Region,
)
from fangpin_kit.clock import ManualClock
from fangpin_kit.db import Database, UnitOfWork
from fangpin_kit.settings import repo_root
from fangpin_screening.adapters.rules import ScreeningRules
from fangpin_screening.service_layer.handlers import ScreeningContext

T = TypeVar("T")

COUNTY = "652827"
CHINA = dt.timezone(dt.timedelta(hours=8))
# Monday 2024-07-15, 10:00 in China: the second quarter of 2024 has ended.
NOW = dt.datetime(2024, 7, 15, 10, tzinfo=CHINA)


class Clock(ManualClock):
    """The kit's manual clock, starting at NOW unless told otherwise."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        super().__init__(now)


def make_context(
    clock: Callable[[], dt.datetime], county: str = COUNTY, rulesets: Path | None = None
) -> ScreeningContext:
    rules = ScreeningRules(rulesets or repo_root() / "rulesets", county[:2])
    return ScreeningContext(county=county, rules=rules, clock=clock)


def village(county: str = COUNTY, n: int = 11) -> str:
    return f"{county}100{n:03d}"


def household(
    household_id: str = "H0000001",
    *,
    per_capita: float = 5000.0,
    county: str = COUNTY,
    village_no: int = 11,
    **fields: Any,
) -> dict[str, Any]:
    """A two-person farming household whose per-capita net income is `per_capita`."""
    serial = sum(map(ord, household_id))
    record: dict[str, Any] = {
        "household_id": household_id,
        "region": {
            "county": county,
            "town": f"{county}100",
            "village": village(county, village_no),
        },
        "members": [
            {
                "id_number": id_number(county, dt.date(1978, 5, 6), serial),
                "name": "王建军",
                "relation": "head",
                "birth_date": "1978-05-06",
            },
            {
                "id_number": id_number(county, dt.date(1980, 9, 1), serial + 1),
                "name": "李桂兰",
                "relation": "spouse",
                "birth_date": "1980-09-01",
            },
        ],
        "income": {"business": per_capita * 2},
    }
    record.update(fields)
    return record


def region_of(record: dict[str, Any]) -> Region:
    return Region(**record["region"])


def clue_event(
    clue_id: str,
    record: dict[str, Any],
    *,
    kind: str = "high_medical_expense",
    registered_at: dt.datetime = NOW,
    observed_at: dt.date | None = None,
    county: str = COUNTY,
) -> CloudEvent:
    payload = ClueAccepted(
        clue_id=clue_id,
        household_id=record["household_id"],
        region=region_of(record),
        source="department_warning",
        dept="medical_insurance",
        kind=kind,
        observed_at=observed_at or registered_at.date(),
        registered_at=registered_at,
        verification_due=registered_at.date() + dt.timedelta(days=7),
        household=record,
    )
    return new_event(
        domain="clue",
        event="accepted",
        county=county,
        source="test/intake",
        data=payload,
        subject=record["household_id"],
        event_id=f"{clue_id}.accepted",
        time=registered_at,
    )


def case_decided(
    record: dict[str, Any],
    *,
    kind: str = "identification",
    outcome: str = "approved",
    at: dt.datetime = NOW,
    risk_types: Iterable[str] = ("illness",),
    case_id: str = "I-1",
    county: str = COUNTY,
    with_record: bool = True,
    **fields: Any,
) -> CloudEvent:
    payload = CaseEvent(
        case_id=case_id,
        kind=kind,  # type: ignore[arg-type]
        household_id=record["household_id"],
        region=region_of(record),
        step="county_approval",
        status="decided",
        flow_version="test",
        outcome=outcome,
        category="marginal",
        risk_types=list(risk_types),
        household=record if with_record else None,
        **fields,
    )
    return new_event(
        domain="case",
        event="decided",
        county=county,
        source="test/approval",
        data=payload,
        subject=record["household_id"],
        event_id=f"{case_id}.{outcome}",
        time=at,
    )


def quarter_income(
    record: dict[str, Any],
    year: int,
    quarter: int,
    per_capita: float,
    *,
    revision: int = 1,
    county: str = COUNTY,
) -> CloudEvent:
    """Income of one quarter (a collection period): `per_capita` is that quarter's."""
    start = dt.date(year, 3 * quarter - 2, 1)
    end = (
        dt.date(year + 1, 1, 1) if quarter == 4 else dt.date(year, 3 * quarter + 1, 1)
    ) - dt.timedelta(days=1)
    members = len(record["members"])
    net = round(per_capita * members, 2)
    payload = IncomeRecorded(
        household_id=record["household_id"],
        region=region_of(record),
        plan_id="P-1",
        period_start=start,
        period_end=end,
        members=members,
        wage=0,
        business=net,
        property=0,
        transfer=0,
        production_costs=0,
        net=net,
        per_capita=per_capita,
        method="in_person",
        collected_by="cadre-7",
        revision=revision,
        recorded_at=dt.datetime.combine(end, dt.time(12), CHINA) + dt.timedelta(days=5),
    )
    return new_event(
        domain="followup",
        event="income_recorded",
        county=county,
        source="test/assistance",
        data=payload,
        subject=record["household_id"],
        event_id=f"income:{record['household_id']}:{start}:r{revision}",
    )


def measure_events(
    record: dict[str, Any], measure_id: str, reply: str = "accepted", county: str = COUNTY
) -> list[CloudEvent]:
    """A measure dispatched to its department and the department's reply."""
    dispatched = MeasureDispatched(
        measure_id=measure_id,
        dispatch_id=f"{measure_id}-1",
        plan_id="P-1",
        household_id=record["household_id"],
        region=region_of(record),
        type="industry",
        dept="agriculture",
        reply_due=NOW + dt.timedelta(days=5),
    )
    answered = MeasureReply(
        measure_id=measure_id, dispatch_id=f"{measure_id}-1", dept="agriculture"
    )
    return [
        new_event(
            domain="measure",
            event="dispatched",
            county=county,
            source="test/assistance",
            data=dispatched,
            event_id=f"{measure_id}.dispatched",
        ),
        new_event(
            domain="measure",
            event=reply,
            county=county,
            source="test/agriculture",
            data=answered,
            event_id=f"{measure_id}.{reply}",
        ),
    ]


async def committed(
    db: Database, use_case: Callable[[UnitOfWork], Awaitable[T]]
) -> tuple[T, list[tuple[str, CloudEvent]]]:
    """Run a use case in its own unit of work, commit, return its result and emitted events."""
    async with db.uow() as uow:
        result = await use_case(uow)
        emitted = uow.emitted
        await uow.commit()
    return result, emitted


async def rows(db: Database, table: type, *where: Any) -> list[Any]:
    async with db.sessions() as session:
        return list((await session.execute(sa.select(table).where(*where))).scalars())


class FakeRegistry:
    """An in-memory registry (the intake export): it can fail after some records, or hold the
    stream at its start until the test opens `gate`."""

    def __init__(self, records: Iterable[dict[str, Any] | str] = ()) -> None:
        self.records: dict[str, str] = {}
        self.fail_after: int | None = None
        self.gate: asyncio.Event | None = None
        for record in records:
            self.put(record)

    def put(self, record: dict[str, Any] | str) -> None:
        text = record if isinstance(record, str) else json.dumps(record, ensure_ascii=False)
        key = json.loads(text).get("household_id") or text
        self.records[key] = text

    async def count(self) -> int:
        return len(self.records)

    async def export(self, after: str) -> AsyncIterator[str]:
        if self.gate is not None:
            await self.gate.wait()
        sent = 0
        for key in sorted(self.records):
            if key <= after:
                continue
            if self.fail_after is not None and sent >= self.fail_after:
                raise ConnectionError("registry connection lost")
            sent += 1
            yield self.records[key]


def rulesets_with_threshold(root: Path, start: dt.date, value: float) -> Path:
    """A rulesets directory (baseline only) whose monitoring threshold changes on `start`."""
    import yaml

    document = yaml.safe_load((repo_root() / "rulesets" / "cn" / "screening.yaml").read_text())
    values = document["parameters"]["monitoring_threshold"]["values"]
    values.append({"start": start, "value": value, "reference": "test: a new year's threshold"})
    values.sort(key=lambda v: v["start"])
    (root / "cn").mkdir(parents=True, exist_ok=True)
    (root / "cn" / "screening.yaml").write_text(yaml.safe_dump(document, allow_unicode=True))
    return root
