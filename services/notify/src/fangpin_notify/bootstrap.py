"""Wires notify's adapters into its use cases: the composition root of the service."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from fangpin.v1 import notify_pb2, notify_pb2_grpc
from fangpin_kit.clock import Clock
from fangpin_kit.grpcserver import ServicerBinding
from fangpin_kit.runtime import ServiceApp, ServiceSpec
from fangpin_notify.adapters.orm import MIGRATIONS, metadata
from fangpin_notify.adapters.rules import escalation_provider, notify_parameters_provider
from fangpin_notify.adapters.settings import NotifySettings, build_channels, close_channels
from fangpin_notify.domain.templates import default_catalog
from fangpin_notify.entrypoints import bus as bus_entry
from fangpin_notify.entrypoints import jobs
from fangpin_notify.entrypoints.grpc import NotifyServicer
from fangpin_notify.service_layer.context import NotifyContext


def context_for(app: ServiceApp, settings: NotifySettings, clock: Clock) -> NotifyContext:
    province = app.settings.province_code
    return NotifyContext(
        county=app.settings.county,
        parameters=notify_parameters_provider(app.settings.rulesets_dir, province),
        escalation=escalation_provider(app.settings.rulesets_dir, province),
        catalog=default_catalog(),
        clock=clock,
        enabled_channels=tuple(settings.enabled_channels()),
        reminder_hour=settings.reminder_hour,
        default_locale=settings.default_locale,
    )


@dataclass(frozen=True)
class Wiring:
    """What one running notify shares between its entry points and background jobs."""

    ctx: NotifyContext
    settings: NotifySettings


def make_spec(clock: Clock | None = None, settings: NotifySettings | None = None) -> ServiceSpec:
    """The notify service; tests pass their own clock (to move days) and channel settings.

    Without `clock` it is the service clock (`app.settings.clock`, which honours
    `FANGPIN_CLOCK_OFFSET_SECONDS` for drills); without `settings` they are read from the
    environment (`FANGPIN_NOTIFY_*`) at start.
    """
    wirings: weakref.WeakKeyDictionary[ServiceApp, Wiring] = weakref.WeakKeyDictionary()

    async def wire(app: ServiceApp) -> list[ServicerBinding]:
        current = settings or NotifySettings()
        ctx = context_for(app, current, clock or app.settings.clock)
        wirings[app] = Wiring(ctx, current)
        bus_entry.subscribe(app.bus, ctx)
        return [
            ServicerBinding(
                NotifyServicer(app.database, ctx),
                notify_pb2_grpc.add_NotifyServiceServicer_to_server,
                notify_pb2.DESCRIPTOR.services_by_name["NotifyService"].full_name,
            )
        ]

    async def deliveries(app: ServiceApp) -> None:
        wiring = wirings[app]
        channels = build_channels(wiring.settings)
        try:
            await jobs.run_deliveries(app.database, wiring.ctx, channels, wiring.settings)
        finally:
            await close_channels(channels)

    async def reminders(app: ServiceApp) -> None:
        wiring = wirings[app]
        await jobs.run_sweeps(app.database, wiring.ctx, wiring.settings)

    return ServiceSpec(
        name="notify",
        metadata=metadata,
        migrations_dir=MIGRATIONS,
        wire=wire,
        background=[deliveries, reminders],
    )


SPEC = make_spec()
