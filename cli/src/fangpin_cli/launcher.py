"""The embedded suite behind `make run`: nats-server from the wheel and the five service processes.

Every service asks for PR_SET_PDEATHSIG at start (`FANGPIN_PARENT_PID`), so even a SIGKILLed
launcher leaves no orphans; on Ctrl-C the children are stopped in reverse order and waited for.
(Setting it in a `preexec_fn` instead would fork a process that has gRPC threads: unsafe.)

Each service's store: `Suite.env`, else the launcher's own environment, names it in
`FANGPIN_<SERVICE>_DB_URL`; without one it is SQLite `var/<service>.db` (see `stores`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from fangpin_cli.stores import (
    StoreError,
    database_name,
    ensure_databases,
    service_databases,
    service_db_variable,
    shown,
)
from fangpin_contracts.subjects import SERVICES
from fangpin_kit.grpcclient import is_serving
from fangpin_kit.natsserver import EmbeddedNats, free_port
from fangpin_kit.settings import DEFAULT_GRPC_PORTS

DEFAULT_NATS_PORT = 14222  # not 4222: never collide with a NATS already on the machine
DEFAULT_MONITOR_PORT = 18222


@dataclass
class Suite:
    var_dir: Path
    county: str = "652827"
    host: str = "127.0.0.1"
    services: tuple[str, ...] = SERVICES
    # settings of this suite; they win over the launcher's environment (os.environ)
    env: dict[str, str] = field(default_factory=dict)
    # per-service extra environment, e.g. a clock offset for one restarted service in a drill
    service_env_overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    nats: EmbeddedNats | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "logs"

    def setting(self, name: str) -> str | None:
        """A setting of this suite: `env`, else the launcher's environment."""
        return self.env.get(name, os.environ.get(name))

    def store(self, service: str) -> str | None:
        """The store URL `service` is given, None for its default (SQLite var/<service>.db)."""
        return self.setting(service_db_variable(service)) or None

    def store_url(self, service: str) -> str:
        """The store `service` runs on, its default included."""
        return self.store(service) or self.default_store_url(service)

    def default_store_url(self, service: str) -> str:
        """SQLite `<var_dir>/<service>.db`, where a service keeps its store by default."""
        return f"sqlite+aiosqlite:///{self.var_dir / service}.db"

    def start_nats(self) -> EmbeddedNats:
        self.nats = EmbeddedNats(
            self.var_dir / "nats",
            port=int(self.setting("FANGPIN_EMBEDDED_NATS_PORT") or DEFAULT_NATS_PORT),
            monitor_port=DEFAULT_MONITOR_PORT,
        ).start()
        return self.nats

    def service_env(self, service: str) -> dict[str, str]:
        assert self.nats is not None
        env = {**os.environ, **self.env}
        env.update(
            {
                "FANGPIN_COUNTY": self.county,
                "FANGPIN_NATS_URL": self.nats.url,
                "FANGPIN_GRPC_HOST": self.host,
                "FANGPIN_GRPC_PORT": str(self.ports[service]),
                "FANGPIN_VAR_DIR": str(self.var_dir),
                # services that call another over gRPC (screening's re-screen reads intake)
                **{f"FANGPIN_{s.upper()}_ADDR": self.address(s) for s in self.ports},
                "PYTHONUNBUFFERED": "1",
                # the service asks the kernel for SIGTERM when this launcher dies (no orphans)
                "FANGPIN_PARENT_PID": str(os.getpid()),
            }
        )
        env.setdefault("FANGPIN_LOG_LEVEL", "INFO")
        # Each service owns its own store: FANGPIN_<SERVICE>_DB_URL, else var/<service>.db.
        env.pop("FANGPIN_DB_URL", None)
        db_url = self.store(service)
        if db_url:
            env["FANGPIN_DB_URL"] = db_url
        env.update(self.service_env_overrides.get(service, {}))
        return env

    def start_service(self, service: str) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if service not in self.ports:
            self.ports[service] = free_port(DEFAULT_GRPC_PORTS[service], self.host)
        log = (self.log_dir / f"{service}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", f"fangpin_{service}"],
            env=self.service_env(service),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.processes[service] = proc
        return proc

    def start(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.start_nats()
        for service in self.services:
            self.start_service(service)

    def address(self, service: str) -> str:
        return f"{self.host}:{self.ports[service]}"

    async def wait_healthy(self, timeout: float = 60.0, services: tuple[str, ...] = ()) -> None:
        deadline = time.monotonic() + timeout
        pending = set(services or self.services)
        while pending:
            for service in list(pending):
                proc = self.processes[service]
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{service} exited with {proc.returncode}; see {self.log_dir}/{service}.log"
                    )
                if await is_serving(self.address(service), timeout=0.5):
                    pending.discard(service)
            if pending:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"not healthy after {timeout}s: {', '.join(sorted(pending))}"
                    )
                await asyncio.sleep(0.2)

    def write_endpoints(self) -> Path:
        assert self.nats is not None
        path = self.var_dir / "endpoints.json"
        path.write_text(
            json.dumps(
                {
                    "county": self.county,
                    "nats": self.nats.url,
                    "nats_monitor": f"http://{self.host}:{self.nats.monitor_port}",
                    "grpc": {s: self.address(s) for s in self.services},
                },
                indent=2,
            )
        )
        return path

    def stop_service(self, service: str, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        proc = self.processes.get(service)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        for service in reversed(list(self.processes)):
            self.stop_service(service)
        if self.nats:
            self.nats.stop()


STORES_FILE = "stores.json"
"""In the state directory: the store of each service it was started with (no password)."""


def configure_stores(suite: Suite, server: str | None) -> list[str]:
    """Settle each service's store before the suite starts; returns notes for the operator.

    `server` (`fangpin run --db`): one PostgreSQL database per service on it, created when
    missing; it wins over `FANGPIN_<SERVICE>_DB_URL` from the environment, which wins over
    the default SQLite `var/<service>.db`. `FANGPIN_DB_URL` is refused: it names one store and
    the suite runs five. A state directory keeps the stores it started with (its NATS streams
    and demo marker belong to them): another store setting is refused, naming both.
    """
    if suite.setting("FANGPIN_DB_URL"):
        raise StoreError(
            "FANGPIN_DB_URL is set, but it names one service's store and the suite runs "
            f"{len(suite.services)} services, each with its own: unset it and use --db "
            "SERVER_URL (one database per service) or FANGPIN_<SERVICE>_DB_URL "
            "(e.g. FANGPIN_INTAKE_DB_URL)"
        )
    notes: list[str] = []
    if server:
        urls = service_databases(server, suite.county, suite.services)
        unused = [
            name
            for name in map(service_db_variable, suite.services)
            if os.environ.get(name) and name not in suite.env
        ]
        if unused:
            notes.append(f"--db given: {', '.join(unused)} from the environment not used")
        names = [database_name(suite.county, service) for service in suite.services]
        created = ensure_databases(server, names)
        if created:
            notes.append(f"created database(s) {', '.join(created)} on {shown(server)}")
        suite.env.update({service_db_variable(s): url for s, url in urls.items()})
    _keep_stores(suite)
    return notes


def _keep_stores(suite: Suite) -> None:
    """Record the stores in the state directory, or refuse ones other than recorded."""
    wanted = {service: shown(suite.store_url(service)) for service in suite.services}
    path = suite.var_dir / STORES_FILE
    if path.exists():
        recorded = json.loads(path.read_text())
    else:  # a state directory from before this file: its SQLite stores, if any
        recorded = {
            service: suite.default_store_url(service)
            for service in suite.services
            if (suite.var_dir / f"{service}.db").exists()
        }
    changed = {s: recorded[s] for s in wanted if s in recorded and recorded[s] != wanted[s]}
    if changed:
        lines = "; ".join(f"{s}: {changed[s]} -> {wanted[s]}" for s in sorted(changed))
        raise StoreError(
            f"{suite.var_dir} was started with other stores ({lines}); its NATS streams and "
            "demo marker belong to those: use another --var-dir (or `make clean`) for new stores"
        )
    suite.var_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**recorded, **wanted}, indent=2))
