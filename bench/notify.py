"""Notify benchmark: a morning reminder sweep over N open deadlines, a re-sweep, and delivery."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path

import sqlalchemy as sa

from fangpin_kit import migrations
from fangpin_kit.clock import CHINA, ManualClock
from fangpin_kit.db import Database
from fangpin_kit.logging import configure_logging
from fangpin_kit.settings import repo_root
from fangpin_kit.testing import create_pg_database, drop_pg_database, postgres_reason
from fangpin_notify.adapters.channels import ChannelSet, LogChannel
from fangpin_notify.adapters.orm import MIGRATIONS, DeadlineRow, metadata
from fangpin_notify.adapters.rules import escalation_provider, notify_parameters_provider
from fangpin_notify.domain.kinds import ChannelKind, EventKind
from fangpin_notify.domain.templates import default_catalog
from fangpin_notify.service_layer import handlers
from fangpin_notify.service_layer.context import NotifyContext
from fangpin_notify.service_layer.delivery import deliver_due
from fangpin_notify.service_layer.notifications import encode_context
from fangpin_notify.service_layer.reminders import sweep

COUNTY = "652827"
DUE = date(2024, 6, 12)
CHUNK = 2000


def village(n: int) -> str:
    return f"{COUNTY}{100 + n % 10:03d}{200 + n % 50:03d}"


async def seed(db: Database, ctx: NotifyContext, deadlines: int, cadres: int) -> None:
    """One village cadre subscription per village, one visit deadline per household."""
    async with db.uow() as uow:
        for n in range(min(500, deadlines)):
            await handlers.subscribe(
                uow, ctx, recipient_id=f"cadre-{n % 500}", role="village_cadre", region=village(n)
            )
        for n in range(cadres):
            await handlers.subscribe(
                uow, ctx, recipient_id=f"contact-{n}", role="contact_cadre", region=COUNTY
            )
        await uow.commit()
    now = ctx.clock()
    rows = [
        {
            "key": f"task:visit:H{n:06d}:{DUE.isoformat()}",
            "ref": f"task:visit:H{n:06d}",
            "mode": "reminders",
            "kind": EventKind.VISIT_DUE.value,
            "escalation_kind": None,
            "due": DUE,
            "region": village(n),
            "household_id": f"H{n:06d}",
            "dept": None,
            "roles": ["contact_cadre"],
            "escalation_roles": ["town_reviewer"],
            "contact_cadres": [f"contact-{n % cadres}"],
            "context": encode_context({"household_id": f"H{n:06d}", "village": village(n)}),
            "status": "open",
            "source_event": f"visit:H{n:06d}",
            "created_at": now,
            "updated_at": now,
        }
        for n in range(deadlines)
    ]
    async with db.sessions() as session:
        for start in range(0, len(rows), CHUNK):
            await session.execute(sa.insert(DeadlineRow), rows[start : start + CHUNK])
        await session.commit()


async def run(db_url: str, deadlines: int, cadres: int) -> None:
    migrations.upgrade(MIGRATIONS, db_url)
    db = Database.connect(db_url, metadata)
    clock = ManualClock(datetime.combine(DUE - timedelta(days=2), day_time(9), CHINA))
    rulesets = repo_root() / "rulesets"
    ctx = NotifyContext(
        county=COUNTY,
        parameters=notify_parameters_provider(rulesets, None),
        escalation=escalation_provider(rulesets, None),
        catalog=default_catalog(),
        clock=clock,
        enabled_channels=(ChannelKind.LOG,),
    )
    try:
        await seed(db, ctx, deadlines, cadres)
        for label in ("morning sweep (reminders + digest plan)", "re-sweep (nothing new)"):
            started = time.perf_counter()
            async with db.uow() as uow:
                report = await sweep(uow, ctx)
                await uow.commit()
            elapsed = time.perf_counter() - started
            print(
                f"  {label:<42} {elapsed:8.2f} s  {deadlines / elapsed:9.0f} deadlines/s  "
                f"notifications={report.notifications} digests={report.digests}"
            )
        channels = ChannelSet({ChannelKind.LOG: LogChannel(logger=_Silent())})
        started = time.perf_counter()
        delivered = 0
        while attempted := await deliver_due(db, ctx, channels, limit=500, concurrency=8):
            delivered += attempted
        elapsed = time.perf_counter() - started
        print(
            f"  {'delivery through the log channel':<42} {elapsed:8.2f} s  "
            f"{delivered / max(elapsed, 1e-9):9.0f} notices/s  delivered={delivered}"
        )
    finally:
        await db.dispose()


class _Silent:
    def info(self, *args: object, **kwargs: object) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deadlines", type=int, default=5000)
    parser.add_argument("--cadres", type=int, default=200, help="contact cadres sharing them")
    parser.add_argument("--pg", action="store_true", help="also on PostgreSQL (FANGPIN_TEST_PG)")
    args = parser.parse_args()
    configure_logging("bench", "WARNING", "console")
    print(f"notify: {args.deadlines} open visit deadlines, {args.cadres} contact cadres")
    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite")
        asyncio.run(
            run(f"sqlite+aiosqlite:///{Path(tmp) / 'notify.db'}", args.deadlines, args.cadres)
        )
    if args.pg:
        reason = postgres_reason()
        if reason:
            print(f"PostgreSQL skipped: {reason}", file=sys.stderr)
            return
        url = create_pg_database()
        try:
            print("PostgreSQL")
            asyncio.run(run(url, args.deadlines, args.cadres))
        finally:
            drop_pg_database(url)


if __name__ == "__main__":
    main()
