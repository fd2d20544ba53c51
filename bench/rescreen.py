"""Re-screen benchmark: households per second of a county re-screen (decide, compare, store)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import yaml

from fangpin_cli.demo import DemoCounty, generate_households
from fangpin_kit import migrations
from fangpin_kit.clock import ManualClock
from fangpin_kit.db import Database
from fangpin_kit.logging import configure_logging
from fangpin_kit.settings import repo_root
from fangpin_kit.testing import create_pg_database, drop_pg_database, postgres_reason
from fangpin_screening.adapters.orm import MIGRATIONS, metadata
from fangpin_screening.adapters.rules import ScreeningRules
from fangpin_screening.service_layer.handlers import ScreeningContext
from fangpin_screening.service_layer.rescreen import Rescreener

COUNTY = "652827"
CHINA = dt.timezone(dt.timedelta(hours=8))


class MemoryRegistry:
    """The registry as intake exports it (JSON text in household_id order), from memory."""

    def __init__(self, records: list[dict[str, object]]) -> None:
        self.lines = sorted(
            (str(r["household_id"]), json.dumps(r, ensure_ascii=False)) for r in records
        )

    async def count(self) -> int:
        return len(self.lines)

    async def export(self, after: str) -> AsyncIterator[str]:
        for key, line in self.lines:
            if key > after:
                yield line


def rulesets(root: Path, start: dt.date, threshold: int) -> Path:
    """The baseline rulesets plus a new monitoring threshold from `start`."""
    document = yaml.safe_load((repo_root() / "rulesets" / "cn" / "screening.yaml").read_text())
    values = document["parameters"]["monitoring_threshold"]["values"]
    values.append({"start": start, "value": threshold, "reference": "bench"})
    values.sort(key=lambda v: v["start"])
    (root / "cn").mkdir(parents=True)
    (root / "cn" / "screening.yaml").write_text(yaml.safe_dump(document, allow_unicode=True))
    return root


async def bench(url: str, households: int, batch: int, workdir: Path) -> None:
    today = dt.date(2026, 6, 1)
    records = generate_households(DemoCounty(COUNTY, households), today)
    migrations.upgrade(MIGRATIONS, url)
    database = Database.connect(url, metadata)
    clock = ManualClock(dt.datetime.combine(today, dt.time(9), CHINA))
    rules = ScreeningRules(rulesets(workdir / "rulesets", dt.date(2026, 7, 1), 9500), COUNTY[:2])
    ctx = ScreeningContext(county=COUNTY, rules=rules, clock=clock)
    rescreener = Rescreener(database, ctx, MemoryRegistry(records), batch=batch)
    try:
        for label, day in (
            ("first screening of the registry", today),
            ("new threshold in force (9500)", dt.date(2026, 7, 2)),
            ("same ruleset again (nothing changed)", dt.date(2026, 7, 3)),
        ):
            clock.now = dt.datetime.combine(day, dt.time(9), CHINA)
            started = time.perf_counter()
            run, _ = await rescreener.start()
            await rescreener.wait()
            elapsed = time.perf_counter() - started
            done = await rescreener.status(run.run_id)
            assert done is not None and done.status == "done", done
            print(
                f"  {label:<40} {done.done:>7} households {done.changed:>6} announced "
                f"{elapsed:7.2f} s  {done.done / elapsed:8.0f} households/s"
            )
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--postgres", action="store_true", help="also on the test PostgreSQL")
    args = parser.parse_args()
    configure_logging("bench", "WARNING", "console")
    print(f"re-screen of {args.households} households, batches of {args.batch}")
    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite")
        sqlite = Path(tmp) / "sqlite"
        sqlite.mkdir()
        asyncio.run(
            bench(
                f"sqlite+aiosqlite:///{sqlite / 'screening.db'}",
                args.households,
                args.batch,
                sqlite,
            )
        )
        if args.postgres:
            reason = postgres_reason()
            if reason:
                print(f"PostgreSQL skipped: {reason}", file=sys.stderr)
                return
            print("PostgreSQL")
            url = create_pg_database()
            pg = Path(tmp) / "pg"
            pg.mkdir()
            try:
                asyncio.run(bench(url, args.households, args.batch, pg))
            finally:
                drop_pg_database(url)


if __name__ == "__main__":
    main()
