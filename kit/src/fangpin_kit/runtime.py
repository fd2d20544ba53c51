"""The service process: migrate, connect, subscribe, relay the outbox, serve gRPC, stop cleanly."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from fangpin_kit import migrations
from fangpin_kit.bus import EventBus
from fangpin_kit.db import Database
from fangpin_kit.grpcserver import GrpcServer, ServicerBinding
from fangpin_kit.logging import configure_logging, get_logger
from fangpin_kit.outbox import OutboxRelay
from fangpin_kit.settings import ServiceSettings, load_settings

log = get_logger("fangpin.runtime")


@dataclass
class ServiceSpec:
    """What makes one service: its name, tables, migrations and how to wire its adapters."""

    name: str
    metadata: sa.MetaData
    migrations_dir: Path
    # Registers bus subscriptions on `app.bus` and returns the gRPC servicers.
    wire: Callable[[ServiceApp], Awaitable[list[ServicerBinding]]]
    background: list[Callable[[ServiceApp], Awaitable[None]]] = field(default_factory=list)


class ServiceApp:
    """A running service: settings, its database, its bus and its gRPC server."""

    def __init__(self, spec: ServiceSpec, settings: ServiceSettings) -> None:
        self.spec = spec
        self.settings = settings
        self.database = Database.connect(settings.resolved_db_url(), spec.metadata)
        self.bus = EventBus(settings, self.database)
        self.grpc: GrpcServer | None = None
        self.relay: OutboxRelay | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.stopped = asyncio.Event()

    def session(self) -> AsyncSession:
        return self.database.sessions()

    async def start(self) -> None:
        await self.bus.connect()
        bindings = await self.spec.wire(self)
        self.relay = OutboxRelay(
            self.database,
            self.bus.js,
            poll_seconds=self.settings.outbox_poll_seconds,
            batch=self.settings.outbox_batch,
        )
        self.relay.start()
        await self.bus.broker.start()
        self.grpc = GrpcServer(
            self.settings.grpc_host, self.settings.resolved_grpc_port(), bindings
        )
        await self.grpc.start()
        for job in self.spec.background:
            self._tasks.append(asyncio.create_task(job(self), name=job.__name__))
        log.info(
            "service started",
            grpc=f"{self.settings.grpc_host}:{self.grpc.port}",
            nats=self.settings.nats_url,
            county=self.settings.county,
        )

    async def stop(self) -> None:
        log.info("service stopping")
        if self.grpc:
            await self.grpc.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.bus.stop()
        if self.relay:
            await self.relay.stop()
        await self.database.dispose()
        log.info("service stopped")

    async def serve_forever(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()


def _die_with_launcher() -> None:
    """Under `make run`: SIGTERM when the launcher dies, so a killed launcher leaves no orphan."""
    parent = os.environ.get("FANGPIN_PARENT_PID")
    if not parent or not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != int(parent):  # the launcher died before we asked
        raise SystemExit("launcher is gone")


def run_service(spec: ServiceSpec, argv: list[str] | None = None) -> None:
    """Entry point of `python -m fangpin_<service> [serve|migrate]`."""
    _die_with_launcher()
    parser = argparse.ArgumentParser(prog=f"python -m fangpin_{spec.name}")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    parser.add_argument(
        "--no-migrate", action="store_true", help="serve without upgrading the store first"
    )
    args = parser.parse_args(argv)
    settings = load_settings(spec.name)
    configure_logging(spec.name, settings.log_level, settings.log_format)
    url = settings.resolved_db_url()
    if args.command == "migrate" or not args.no_migrate:
        migrations.upgrade(spec.migrations_dir, url)
        log.info("store migrated", db=_redact_url(url))
    if args.command == "migrate":
        return
    asyncio.run(ServiceApp(spec, settings).serve_forever())


def _redact_url(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)
