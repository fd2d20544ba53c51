"""Running notify in-process for service tests: the service, its gRPC stub, bus helpers."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from fangpin.v1 import notify_pb2, notify_pb2_grpc
from fangpin_contracts.cloudevents import MSG_ID_HEADER, CloudEvent
from fangpin_contracts.subjects import subject
from fangpin_kit.clock import Clock, china_date
from fangpin_kit.grpcclient import channel
from fangpin_kit.natsserver import EmbeddedNats
from fangpin_kit.runtime import ServiceApp
from fangpin_kit.settings import repo_root
from fangpin_kit.testing import running_service
from fangpin_notify.adapters.orm import DigestDayRow
from fangpin_notify.adapters.settings import NotifySettings
from fangpin_notify.bootstrap import make_spec
from notify_support import case_event

DUE = date(2024, 6, 12)
SECRET = "county-oa-secret"
FAST = {"sweep_interval_seconds": 0.1, "delivery_poll_seconds": 0.05}
Stub = notify_pb2_grpc.NotifyServiceStub


@asynccontextmanager
async def notify(
    clock: Clock,
    nats_server: EmbeddedNats,
    county: str,
    store: Path,
    *,
    rulesets_dir: Path | None = None,
    **channel_settings: Any,
) -> AsyncIterator[tuple[ServiceApp, Stub]]:
    """Notify in this process with `clock`, against the shared bus and the store file."""
    spec = make_spec(clock=clock, settings=NotifySettings(**(FAST | channel_settings)))
    overrides: dict[str, Any] = {"rulesets_dir": rulesets_dir} if rulesets_dir else {}
    async with running_service(
        spec,
        start=clock(),
        county=county,
        nats_url=nats_server.url,
        db_url=f"sqlite+aiosqlite:///{store}",
        **overrides,
    ) as app:
        assert app.grpc is not None
        async with channel(f"127.0.0.1:{app.grpc.port}") as ch:
            yield app, Stub(ch)


async def subscribe(stub: Stub, recipient: str, role: str, area: str, **kw: Any) -> None:
    await stub.Subscribe(
        notify_pb2.SubscribeRequest(recipient_id=recipient, role=role, region=area, **kw)
    )


async def staff(stub: Stub, county: str, **endpoint: Any) -> None:
    """A village cadre, a town reviewer and the county bureau, subscribed through gRPC."""
    village = f"{county}101001"
    await subscribe(stub, "cadre-li", "village_cadre", village, **endpoint)
    await subscribe(stub, "reviewer-wang", "town_reviewer", village[:9], **endpoint)
    await subscribe(stub, "bureau-zhao", "county_bureau", county, **endpoint)


async def listed(stub: Stub, **filters: Any) -> list[notify_pb2.Notice]:
    return list((await stub.ListNotices(notify_pb2.ListNoticesRequest(**filters))).notices)


async def publish(app: ServiceApp, ev: CloudEvent, msg_id: str | None = None) -> None:
    """Publish as an upstream service would; another `msg_id` gets past JetStream's dedupe."""
    parts = ev.type.split(".")[2:-1]  # cn.fangpin.<domain>.<event>.v1
    dept = ev.data.get("dept") if parts == ["measure", "dispatched"] else None
    await app.bus.js.publish(
        subject(app.settings.county, *parts, dept=dept),
        ev.model_dump_json().encode(),
        headers={MSG_ID_HEADER: msg_id or ev.id},
    )


async def swept_today(app: ServiceApp, clock: Clock) -> bool:
    """The day's first reminder sweep has run."""
    async with app.database.sessions() as s:
        return await s.get(DigestDayRow, china_date(clock())) is not None


async def all_delivered(stub: Stub) -> bool:
    return all(n.state == "delivered" for n in await listed(stub, limit=1000))


def village_of(county: str) -> str:
    return f"{county}101001"


def county_case(county: str, name: str, **kw: Any) -> CloudEvent:
    return case_event(name, county=county, village=village_of(county), **kw)


def fast_retry_rulesets(root: Path) -> Path:
    """The repository's rulesets, with notify retrying 3 times a few hundredths apart."""
    (root / "cn").mkdir(parents=True)
    shutil.copy(repo_root() / "rulesets" / "cn" / "procedure.yaml", root / "cn")
    source = repo_root() / "rulesets" / "cn" / "notify.yaml"
    document = yaml.safe_load(source.read_text(encoding="utf-8"))
    for name, value in {
        "retry_max_attempts": 3,
        "retry_backoff_base_seconds": 0.05,
        "retry_backoff_max_seconds": 0.2,
    }.items():
        document["parameters"][name]["values"] = [
            {"start": "2021-01-01", "value": value, "reference": "test: fast retries"}
        ]
    (root / "cn" / "notify.yaml").write_text(
        yaml.safe_dump(document, allow_unicode=True), encoding="utf-8"
    )
    return root
