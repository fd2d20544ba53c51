"""Assistance benchmark: plans per second from `case.decided`, department replies per second,
and how long one sweep takes over a county's plans (re-dispatch of every unanswered measure,
then the daily follow-up tasks), on the service layer with a real store, outbox included.

    .venv/bin/python bench/assistance.py [--n 1000] [--db postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]

from fangpin_assistance.adapters.orm import MIGRATIONS, MeasureRow, metadata  # noqa: E402
from fangpin_assistance.adapters.rules import (  # noqa: E402
    assistance_rules_provider,
    county_catalog,
)
from fangpin_assistance.entrypoints.scheduler import sweep  # noqa: E402
from fangpin_assistance.service_layer import handlers  # noqa: E402
from fangpin_assistance.service_layer.handlers import AssistanceContext  # noqa: E402
from fangpin_cli.demo import id_number  # noqa: E402
from fangpin_contracts.cloudevents import CloudEvent, new_event  # noqa: E402
from fangpin_kit import migrations  # noqa: E402
from fangpin_kit.clock import ManualClock, china_date  # noqa: E402
from fangpin_kit.db import Database  # noqa: E402

COUNTY = "652827"


def decision(n: int, at: datetime) -> CloudEvent:
    household_id = f"H{n:07d}"
    village = f"{COUNTY}{100 + n % 20:03d}{11 + n % 7:03d}"
    record = {
        "household_id": household_id,
        "region": {"county": COUNTY, "village": village},
        "members": [
            {
                "id_number": id_number(COUNTY, date(1980, 1, 11), (2 * n) % 1000),
                "name": "户主",
                "relation": "head",
                "birth_date": "1980-01-11",
                "illness": "serious",
            },
            {
                "id_number": id_number(COUNTY, date(1982, 3, 5), (2 * n + 1) % 1000),
                "name": "配偶",
                "relation": "spouse",
                "birth_date": "1982-03-05",
            },
        ],
        "housing_safe": False,
    }
    data = {
        "case_id": f"C-{n}",
        "kind": "identification",
        "household_id": household_id,
        "region": record["region"],
        "step": "county_approval",
        "status": "decided",
        "flow_version": "bench",
        "category": "marginal",
        "risk_types": ["illness", "housing"],
        "outcome": "approved",
        "household": record,
    }
    return new_event(
        domain="case", event="decided", county=COUNTY, source="bench", data=data, time=at
    )


def figures(label: str, n: int, elapsed: float, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(
        f"{label:<28} {n / elapsed:8.0f}/s   p50 {statistics.median(ordered) * 1000:6.1f} ms"
        f"   p99 {p99 * 1000:6.1f} ms   ({n} in {elapsed:.2f} s)"
    )


async def run(n: int, url: str) -> None:
    migrations.upgrade(MIGRATIONS, url)
    database = Database.connect(url, metadata)
    clock = ManualClock(datetime(2024, 5, 6, 2, 0, tzinfo=UTC))  # Monday 10:00 in China
    ctx = AssistanceContext(
        county=COUNTY,
        params_on=assistance_rules_provider(
            ROOT / "rulesets", COUNTY[:2], check_on=china_date(clock.now)
        ),
        catalog=county_catalog(),
        clock=clock,
    )
    async with database.uow() as uow:
        await handlers.assign_region_cadre(uow, ctx, COUNTY, "duty-cadre", "bench")
        await uow.commit()

    latencies: list[float] = []
    started = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        async with database.uow() as uow:
            await handlers.decide_case(uow, ctx, decision(i, clock.now))
            await uow.commit()
        latencies.append(time.perf_counter() - t)
    figures("case.decided -> plan", n, time.perf_counter() - started, latencies)

    async with database.sessions() as session:
        jobs = list(
            (
                await session.execute(
                    sa.select(MeasureRow.measure_id).where(MeasureRow.department == "hrss")
                )
            ).scalars()
        )
    latencies = []
    started = time.perf_counter()
    for i, measure_id in enumerate(jobs):
        reply = new_event(
            domain="measure",
            event="accepted",
            county=COUNTY,
            source="bench",
            data={"measure_id": measure_id, "dept": "hrss"},
            event_id=f"reply-{i}",
        )
        t = time.perf_counter()
        async with database.uow() as uow:
            await handlers.receive_reply(uow, ctx, reply)
            await uow.commit()
        latencies.append(time.perf_counter() - t)
    figures("measure reply applied", len(jobs), time.perf_counter() - started, latencies)

    clock.now += timedelta(hours=72)  # the two other measures of every plan are unanswered
    started = time.perf_counter()
    report = await sweep(database, ctx)
    elapsed = time.perf_counter() - started
    print(
        f"{'sweep (re-dispatch + tasks)':<28} {elapsed:8.2f} s    {report.ticked} plans ticked,"
        f" {report.followed_up} followed up, {report.conflicts} conflicts"
    )
    started = time.perf_counter()
    report = await sweep(database, ctx)
    print(
        f"{'sweep with nothing due':<28} {time.perf_counter() - started:8.2f} s    "
        f"{report.ticked} plans ticked, {report.followed_up} followed up"
    )
    outbox = database.tables.outbox
    async with database.sessions() as session:
        staged = (
            await session.execute(sa.select(sa.func.count()).select_from(outbox))
        ).scalar_one()
    print(f"{'events staged in the outbox':<28} {staged:8d}")
    await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="households identified")
    parser.add_argument("--db", default="", help="store URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite+aiosqlite:///{Path(tmp) / 'assistance.db'}"
        print(f"assistance bench: {args.n} households, store {url.split(':')[0]}")
        asyncio.run(run(args.n, url))


if __name__ == "__main__":
    sys.exit(main())
