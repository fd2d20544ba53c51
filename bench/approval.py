"""Approval benchmark: p50/p99 of listing a village's queue and of signing a step at 100k cases."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from statistics import quantiles
from typing import Any

import sqlalchemy as sa

from fangpin.v1 import approval_pb2 as pb
from fangpin.v1 import approval_pb2_grpc
from fangpin_approval.adapters.orm import MIGRATIONS, CaseActionRow, CaseRow, metadata
from fangpin_approval.adapters.repository import LedgerStore, action_values, new_case_values
from fangpin_approval.adapters.rules import procedure_rules_provider
from fangpin_approval.domain.case import Case
from fangpin_approval.domain.codes import Category, RiskType
from fangpin_approval.domain.procedure import FlowKind
from fangpin_approval.entrypoints.grpc import ApprovalServicer
from fangpin_approval.service_layer.handlers import ApprovalContext
from fangpin_kit import migrations
from fangpin_kit.clock import utc_now
from fangpin_kit.db import Database
from fangpin_kit.grpcclient import channel
from fangpin_kit.grpcserver import GrpcServer, ServicerBinding
from fangpin_kit.logging import configure_logging
from fangpin_kit.settings import repo_root
from fangpin_kit.testing import create_pg_database, drop_pg_database, postgres_reason
from fangpin_kit.workdays import default_calendar

COUNTY = "652827"
CHUNK = 2000


def village_of(n: int, villages: int) -> str:
    """Case n's village: ten towns, `villages // 10` villages each."""
    index = n % villages
    per_town = villages // 10
    return f"{COUNTY}{100 + index // per_town:03d}{200 + index % per_town:03d}"


def household_record(household_id: str, village: str) -> dict[str, Any]:
    return {
        "household_id": household_id,
        "region": {"county": COUNTY, "town": village[:9], "village": village},
        "members": [
            {"name": "张三丰", "relation": "head", "birth_date": "1970-03-07"},
            {"name": "李四娘", "relation": "spouse", "birth_date": "1972-08-19"},
        ],
        "income": {"wage": 6000, "transfer": 1200},
    }


def context() -> ApprovalContext:
    return ApprovalContext(
        county=COUNTY,
        procedure=procedure_rules_provider(repo_root() / "rulesets", COUNTY[:2]),
        calendar=default_calendar(),
        clock=utc_now,
    )


async def load(database: Database, ctx: ApprovalContext, cases: int, villages: int) -> None:
    """`cases` open identification cases at application, opened over the last ten days, each
    with its timeline (open, screening) and its two ledger entries, written the way the
    repository writes them."""
    now = utc_now()
    rng = random.Random(7)
    for start in range(0, cases, CHUNK):
        case_rows, action_rows, ledger = [], [], []
        for n in range(start, min(start + CHUNK, cases)):
            village = village_of(n, villages)
            opened = now - dt.timedelta(days=10) + dt.timedelta(seconds=n * 864_000 / cases)
            clue_on = (opened + dt.timedelta(hours=8)).date()
            case = Case.open(
                case_id=f"I{n:020d}",
                kind=FlowKind.IDENTIFICATION,
                household_id=f"H{n:09d}",
                region=village,
                clue_on=clue_on,
                at=opened,
                params=ctx.procedure(clue_on),
                calendar=ctx.calendar,
                household=None,
                source="screening:clue",
            )
            case.record_screening(
                opened,
                category=rng.choice(list(Category)),
                risk_types=rng.sample(list(RiskType)[:10], 2),
                exclusions=[],
                ruleset="cn@2024-01-01",
            )
            case_rows.append(
                new_case_values(
                    case,
                    household=household_record(case.household_id, village),
                    source="screening:clue",
                )
            )
            for action in case.history:
                action_rows.append(action_values(action))
                record = {"type": "case", "case_kind": "identification"}
                ledger.append((record | action.ledger_record(case.household_id), action.at))
        async with database.uow() as uow:
            await uow.session.execute(sa.insert(CaseRow), case_rows)
            await uow.session.execute(sa.insert(CaseActionRow), action_rows)
            await LedgerStore(uow.session).append(ledger)
            await uow.commit()
        print(f"\r  loaded {min(start + CHUNK, cases):>7} cases", end="", file=sys.stderr)
    print(file=sys.stderr)
    async with database.engine.begin() as conn:
        await conn.execute(sa.text("ANALYZE"))


def figures(samples: list[float], cpu: float) -> tuple[float, float, float, float]:
    """p50, p99 and max latency, and process CPU per call (client, server and store driver
    share this process: on a busy machine CPU per call is the steadier figure), in ms."""
    cuts = quantiles(samples, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000, max(samples) * 1000, cpu / len(samples) * 1000


async def measure(
    database: Database, ctx: ApprovalContext, cases: int, villages: int, n: int
) -> dict[str, tuple[float, float, float, float]]:
    server = GrpcServer(
        "127.0.0.1",
        0,
        [
            ServicerBinding(
                ApprovalServicer(database, ctx),
                approval_pb2_grpc.add_ApprovalServiceServicer_to_server,
                pb.DESCRIPTOR.services_by_name["ApprovalService"].full_name,
            )
        ],
    )
    await server.start()
    rng = random.Random(11)
    try:
        async with channel(f"127.0.0.1:{server.port}") as ch:
            stub = approval_pb2_grpc.ApprovalServiceStub(ch)
            village_list = sorted({village_of(i, villages) for i in range(villages)})
            for village in village_list[:20]:  # warm up connection and caches
                await stub.ListCases(pb.ListCasesRequest(region=village, status="open", limit=100))
            listing: list[float] = []
            cpu = time.process_time()
            for _ in range(n):
                village = rng.choice(village_list)
                started = time.perf_counter()
                reply = await stub.ListCases(
                    pb.ListCasesRequest(region=village, status="open", limit=100)
                )
                listing.append(time.perf_counter() - started)
                assert len(reply.cases) == 100, len(reply.cases)
            listing_cpu = time.process_time() - cpu
            signing: list[float] = []
            cpu = time.process_time()
            for number in rng.sample(range(cases), n):
                village = village_of(number, villages)
                cadre = pb.Actor(
                    id="V-01", name="李支书", role="village_secretary", level="village",
                    region=village,
                )  # fmt: skip
                started = time.perf_counter()
                signed = await stub.SignStep(
                    pb.SignStepRequest(
                        case_id=f"I{number:020d}",
                        step="application",
                        actor=cadre,
                        comment="代申请",
                        expected_version=2,
                    )
                )
                signing.append(time.perf_counter() - started)
                assert signed.step == "verification"
            signing_cpu = time.process_time() - cpu
    finally:
        await server.stop(0)
    return {
        f"list village queue (100 of ~{cases // villages})": figures(listing, listing_cpu),
        "sign a step": figures(signing, signing_cpu),
    }


async def run_backend(name: str, url: str, cases: int, villages: int, n: int) -> None:
    migrations.upgrade(MIGRATIONS, url)
    database = Database.connect(url, metadata)
    ctx = context()
    try:
        started = time.perf_counter()
        await load(database, ctx, cases, villages)
        print(f"  {name}: {cases} open cases loaded in {time.perf_counter() - started:.1f}s")
        results = await measure(database, ctx, cases, villages, n)
        for operation, (p50, p99, worst, cpu) in results.items():
            verdict = "ok" if p99 < 50 else "OVER 50 ms"
            print(
                f"  {name:<10} {operation:<32} n={n:<5} p50 {p50:6.2f} ms  "
                f"p99 {p99:6.2f} ms  max {worst:7.2f} ms  cpu {cpu:5.2f} ms/call  "
                f"(target p99 < 50 ms: {verdict})"
            )
        load_average = os.getloadavg()[0]
        print(
            f"  {name:<10} load average {load_average:.2f} on {os.cpu_count()} CPUs while measuring"
        )
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000, help="open cases in the store")
    parser.add_argument("--villages", type=int, default=200, help="villages they spread over")
    parser.add_argument("--samples", type=int, default=1000, help="calls measured per operation")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    configure_logging("approval", "WARNING", "console")  # no per-call log lines in the timings
    if args.villages % 10 or args.cases < args.villages * 100:
        parser.error("--villages must be a multiple of 10 and --cases at least 100 per village")
    print(f"approval bench: {args.cases} open cases over {args.villages} villages, gRPC in process")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'approval.db'}"
        asyncio.run(run_backend("sqlite", url, args.cases, args.villages, args.samples))
    if args.no_pg:
        return
    reason = postgres_reason()
    if reason:
        print(f"  postgresql: skipped ({reason})")
        return
    url = create_pg_database()  # a scratch database on FANGPIN_TEST_PG, dropped afterwards
    try:
        asyncio.run(run_backend("postgresql", url, args.cases, args.villages, args.samples))
    finally:
        drop_pg_database(url)


if __name__ == "__main__":
    main()
