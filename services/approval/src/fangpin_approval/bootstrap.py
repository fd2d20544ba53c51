"""Wires approval's adapters into its use cases: the composition root of the service."""

from __future__ import annotations

import asyncio
from weakref import WeakKeyDictionary

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from fangpin.v1 import approval_pb2, approval_pb2_grpc
from fangpin_approval.adapters.orm import MIGRATIONS, metadata
from fangpin_approval.adapters.rules import procedure_rules_provider
from fangpin_approval.entrypoints import bus as bus_entry
from fangpin_approval.entrypoints.grpc import ApprovalServicer
from fangpin_approval.service_layer import handlers
from fangpin_approval.service_layer.handlers import ApprovalContext
from fangpin_kit.grpcserver import ServicerBinding
from fangpin_kit.logging import get_logger
from fangpin_kit.runtime import ServiceApp, ServiceSpec
from fangpin_kit.workdays import load_calendar

log = get_logger("fangpin.approval")


class ApprovalSettings(BaseSettings):
    """Approval's own knobs (env prefix `FANGPIN_APPROVAL_`)."""

    model_config = SettingsConfigDict(env_prefix="FANGPIN_APPROVAL_", extra="ignore")

    # How often the overdue and green-channel sweeps run; the first run is at start.
    sweep_seconds: float = Field(default=60.0, gt=0)
    # Cases one sweep pass looks at (the rest wait for the next pass).
    sweep_batch: int = Field(default=500, ge=1)


_contexts: WeakKeyDictionary[ServiceApp, ApprovalContext] = WeakKeyDictionary()


def context_for(app: ServiceApp) -> ApprovalContext:
    """The service's context, built once per running app (rulesets loaded and checked once)."""
    ctx = _contexts.get(app)
    if ctx is None:
        ctx = ApprovalContext(
            county=app.settings.county,
            procedure=procedure_rules_provider(
                app.settings.rulesets_dir, app.settings.province_code
            ),
            calendar=load_calendar(app.settings.rulesets_dir, app.settings.calendar_file),
            clock=app.settings.clock,
        )
        _contexts[app] = ctx
    return ctx


async def wire(app: ServiceApp) -> list[ServicerBinding]:
    ctx = context_for(app)
    bus_entry.subscribe(app.bus, ctx)
    return [
        ServicerBinding(
            ApprovalServicer(app.database, ctx),
            approval_pb2_grpc.add_ApprovalServiceServicer_to_server,
            approval_pb2.DESCRIPTOR.services_by_name["ApprovalService"].full_name,
        )
    ]


async def overdue_sweep(app: ServiceApp) -> None:
    """Every `sweep_seconds`: report breached time limits once each, escalated (case.overdue)."""
    settings = ApprovalSettings()
    ctx = context_for(app)
    while True:
        try:
            reported = await handlers.sweep_overdue(app.database, ctx, limit=settings.sweep_batch)
            if reported:
                log.info("overdue cases reported", breaches=reported)
        except Exception as err:  # keep sweeping; the next pass retries
            log.error("overdue sweep failed", error=f"{type(err).__name__}: {err}")
        await asyncio.sleep(settings.sweep_seconds)


async def green_channel_sweep(app: ServiceApp) -> None:
    """Every `sweep_seconds`: green-channel cases past their month leave the channel."""
    settings = ApprovalSettings()
    ctx = context_for(app)
    while True:
        try:
            expired = await handlers.sweep_green_channel(
                app.database, ctx, limit=settings.sweep_batch
            )
            if expired:
                log.info("green channels expired", cases=expired)
        except Exception as err:  # keep sweeping; the next pass retries
            log.error("green channel sweep failed", error=f"{type(err).__name__}: {err}")
        await asyncio.sleep(settings.sweep_seconds)


SPEC = ServiceSpec(
    name="approval",
    metadata=metadata,
    migrations_dir=MIGRATIONS,
    wire=wire,
    background=[overdue_sweep, green_channel_sweep],
)
