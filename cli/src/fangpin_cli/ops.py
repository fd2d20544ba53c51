"""`fangpin run` (the embedded suite of `make run`) and `fangpin ops ...` for operators."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from pathlib import Path
from typing import Any

import nats
import typer

from fangpin.v1 import (
    approval_pb2_grpc,
    assistance_pb2,
    assistance_pb2_grpc,
    common_pb2,
    intake_pb2,
    intake_pb2_grpc,
    notify_pb2_grpc,
    screening_pb2_grpc,
)
from fangpin_cli.bus import nats_url, publish_warnings
from fangpin_cli.demo import DemoCounty, generate_households, generate_warnings
from fangpin_cli.endpoints import address
from fangpin_cli.launcher import Suite, configure_stores
from fangpin_cli.output import JsonFlag, LangOption, dlq_table, emit_one, emit_rows, stats_view
from fangpin_cli.stores import StoreError, shown
from fangpin_cli.today import today
from fangpin_contracts.subjects import SERVICES, dlq_subject, subject
from fangpin_kit.grpcclient import channel
from fangpin_kit.settings import repo_root

app = typer.Typer(no_args_is_help=True, help="Operations: stats, health.")

STUBS = {
    "intake": intake_pb2_grpc.IntakeServiceStub,
    "screening": screening_pb2_grpc.ScreeningServiceStub,
    "approval": approval_pb2_grpc.ApprovalServiceStub,
    "assistance": assistance_pb2_grpc.AssistanceServiceStub,
    "notify": notify_pb2_grpc.NotifyServiceStub,
}

SUMMARY = (
    ("intake", "households"),
    ("intake", "clues"),
    ("screening", "decisions"),
    ("screening", "in_scope"),
    ("approval", "cases_open"),
    ("approval", "monitored"),
    ("assistance", "plans"),
    ("assistance", "measures_dispatched"),
    ("notify", "notices"),
)


async def gather_stats(addresses: dict[str, str]) -> dict[str, dict[str, int]]:
    async def one(service: str) -> tuple[str, dict[str, int]]:
        try:
            async with channel(addresses[service]) as ch:
                reply = await STUBS[service](ch).GetStats(common_pb2.StatsRequest(), timeout=3)
                return service, dict(reply.counts)
        except Exception:
            return service, {}

    return dict(await asyncio.gather(*(one(s) for s in addresses)))


@app.command("dlq")
def dlq(
    county: str = typer.Option("652827", help="county code"),
    service: str = typer.Option("", help="only this service's dead letters"),
    limit: int = typer.Option(100, help="at most this many, oldest first"),
    url: str | None = typer.Option(None, "--nats", help="NATS URL (default: make run's)"),
    as_json: bool = JsonFlag,
    lang: str = LangOption,
) -> None:
    """Dead letters (what a service could not process, with the reason): a table on a
    terminal (service, subject, reason, time in China, deliveries), else JSON lines."""
    letters = asyncio.run(_read_dlq(nats_url(url), county, service, limit))
    emit_rows(letters, as_json=as_json, lang=lang, view=dlq_table)
    typer.echo(f"{len(letters)} dead letter(s)", err=True)


async def _read_dlq(url: str, county: str, service: str, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` dead letters, oldest first, as the CloudEvents they were published as."""
    nc = await nats.connect(url, connect_timeout=5)
    js = nc.jetstream()
    filter_subject = dlq_subject(county, service) if service else subject(county, "dlq", ">")
    letters: list[dict[str, Any]] = []
    try:
        sub = await js.subscribe(filter_subject, ordered_consumer=True)
        while len(letters) < limit:
            try:
                msg = await sub.next_msg(timeout=1)
            except nats.errors.TimeoutError:
                break
            letters.append(json.loads(msg.data))
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await nc.close()
    return letters


@app.command("stats")
def stats(as_json: bool = JsonFlag, lang: str = LangOption) -> None:
    """Counts from every service: a table per service on a terminal, else one JSON object."""
    counts = asyncio.run(gather_stats({s: address(s) for s in SERVICES}))
    emit_one(counts, as_json=as_json, lang=lang, view=stats_view)


IMPORT_STATUSES = ("created", "updated", "unchanged", "rejected")


def import_summary(outcomes: dict[str, int]) -> str:
    """`households created 60, updated 0, unchanged 0, rejected 0` (and any other status)."""
    statuses = [*IMPORT_STATUSES, *sorted(set(outcomes) - set(IMPORT_STATUSES))]
    return "households " + ", ".join(f"{s} {outcomes.get(s, 0)}" for s in statuses)


async def load_demo(suite: Suite, demo: DemoCounty) -> str:
    """Import the demo county once per `var/`; a later run finds the marker and sends nothing
    (re-importing would overwrite the facts the warnings added to the households)."""
    marker = suite.var_dir / f"demo-{demo.county}.json"
    wanted = {"county": demo.county, "households": demo.households, "seed": demo.seed}
    if marker.exists():
        loaded = json.loads(marker.read_text())
        if {k: loaded.get(k) for k in wanted} == wanted:
            return (
                f"demo county {demo.county} already loaded on {loaded['loaded_on']} "
                f"({marker}); nothing re-sent"
            )
    day = today()
    households = generate_households(demo, day)
    async with channel(suite.address("intake")) as ch:

        async def records():  # type: ignore[no-untyped-def]
            for n, record in enumerate(households, start=1):
                yield intake_pb2.HouseholdRecord(
                    line=n, json=json.dumps(record, ensure_ascii=False)
                )

        outcomes: dict[str, int] = {}
        async for outcome in intake_pb2_grpc.IntakeServiceStub(ch).ImportHouseholds(records()):
            outcomes[outcome.status] = outcomes.get(outcome.status, 0) + 1
    async with channel(suite.address("assistance")) as ch:
        # every demo plan gets a contact cadre (帮扶联系人) on duty for the county
        await assistance_pb2_grpc.AssistanceServiceStub(ch).AssignContactCadre(
            assistance_pb2.AssignContactCadreRequest(
                region=demo.county, cadre_id=f"demo-cadre-{demo.county}", by="fangpin/demo"
            )
        )
    assert suite.nats is not None
    published, duplicates = await publish_warnings(
        suite.nats.url, demo.county, generate_warnings(demo, households, day), "fangpin/demo"
    )
    marker.write_text(
        json.dumps({**wanted, "loaded_on": day.isoformat(), "imported": outcomes}, indent=2)
    )
    return (
        f"demo county {demo.county}: {import_summary(outcomes)}; "
        f"warnings published {published}, already on the bus {duplicates}"
    )


def _summary_line(stats: dict[str, dict[str, int]]) -> str:
    return "  ".join(f"{key}={stats.get(svc, {}).get(key, '-')}" for svc, key in SUMMARY)


async def _run(suite: Suite, demo: DemoCounty | None, interval: float) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = loop.time()
    suite.start()
    assert suite.nats is not None
    await suite.wait_healthy(timeout=60)
    elapsed = loop.time() - started
    path = suite.write_endpoints()
    typer.echo(f"fangpin: all {len(suite.services)} services healthy in {elapsed:.1f}s")
    typer.echo(
        f"  nats        {suite.nats.url}  (monitor http://127.0.0.1:{suite.nats.monitor_port})"
    )
    for service in suite.services:
        typer.echo(
            f"  {service:<11} grpc {suite.address(service)}  log {suite.log_dir}/{service}.log"
            f"  store {shown(suite.store_url(service))}"
        )
    typer.echo(f"  endpoints   {path}")
    if demo:
        typer.echo("  " + await load_demo(suite, demo))
    typer.echo(
        "Try: fangpin case list --step application | fangpin demo walk | fangpin ops stats  "
        "(Ctrl-C stops)"
    )
    addresses = {s: suite.address(s) for s in suite.services}
    while not stop.is_set():
        typer.echo("summary: " + _summary_line(await gather_stats(addresses)))
        for service, proc in suite.processes.items():
            if proc.poll() is not None:
                typer.echo(f"warning: {service} exited ({proc.returncode}); restarting", err=True)
                suite.start_service(service)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


def run(
    var_dir: Path = typer.Option(None, help="state directory (default ./var)"),
    county: str = typer.Option("652827", help="county code of the demo instance"),
    demo: bool = typer.Option(True, help="load the demo county (idempotent)"),
    households: int = typer.Option(300, help="demo households"),
    interval: float = typer.Option(10.0, help="seconds between summary lines"),
    once: bool = typer.Option(False, help="start, load, print one summary and stop (smoke test)"),
    db: str | None = typer.Option(
        None,
        "--db",
        metavar="SERVER_URL",
        help="PostgreSQL server for the stores (e.g. postgresql+psycopg://postgres@127.0.0.1"
        ":5432/): one database per service, fangpin_<county>_<service>, created if missing. "
        "Wins over FANGPIN_<SERVICE>_DB_URL; without either, SQLite var/<service>.db",
    ),
) -> None:
    """Start the whole suite on the embedded default and run until Ctrl-C.

    Stores: with --db, one PostgreSQL database per service on that server; else each service's
    FANGPIN_<SERVICE>_DB_URL from the environment (e.g. FANGPIN_APPROVAL_DB_URL); else SQLite
    under the state directory. A state directory stays with the stores it started with.
    """
    suite = Suite(var_dir=(var_dir or repo_root() / "var").resolve(), county=county)
    try:
        for note in configure_stores(suite, db):
            typer.echo(f"fangpin run: {note}", err=True)
    except StoreError as exc:
        typer.echo(f"fangpin run: {exc}", err=True)
        raise typer.Exit(2) from None
    demo_county = DemoCounty(county=county, households=households) if demo else None
    try:
        if once:
            asyncio.run(_once(suite, demo_county))
        else:
            asyncio.run(_run(suite, demo_county, interval))
    finally:
        suite.stop()
        typer.echo("fangpin: stopped")


async def _once(suite: Suite, demo: DemoCounty | None) -> None:
    suite.start()
    await suite.wait_healthy(timeout=60)
    suite.write_endpoints()
    typer.echo("fangpin: all services healthy")
    for service in suite.services:
        typer.echo(f"  {service:<11} store {shown(suite.store_url(service))}")
    if demo:
        typer.echo(await load_demo(suite, demo))
    addresses = {s: suite.address(s) for s in suite.services}
    typer.echo("summary: " + _summary_line(await _settled_stats(addresses)))


async def _settled_stats(
    addresses: dict[str, str], timeout: float = 60.0
) -> dict[str, dict[str, int]]:
    """Stats once two readings a second apart agree (the pipeline has drained), or at timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    previous = await gather_stats(addresses)
    while loop.time() < deadline:
        await asyncio.sleep(1.0)
        current = await gather_stats(addresses)
        if current == previous:
            return current
        previous = current
    return previous
