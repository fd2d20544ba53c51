"""Wires screening's adapters into its use cases: the composition root of the service."""

from __future__ import annotations

import asyncio

from fangpin.v1 import screening_pb2, screening_pb2_grpc
from fangpin_kit.clock import china_date
from fangpin_kit.grpcserver import ServicerBinding
from fangpin_kit.logging import get_logger
from fangpin_kit.runtime import ServiceApp, ServiceSpec
from fangpin_screening.adapters.orm import MIGRATIONS, metadata
from fangpin_screening.adapters.registry import HouseholdRegistry, IntakeRegistry
from fangpin_screening.adapters.rules import ScreeningRules
from fangpin_screening.adapters.settings import ScreeningSettings
from fangpin_screening.entrypoints import bus as bus_entry
from fangpin_screening.entrypoints.grpc import ScreeningServicer
from fangpin_screening.service_layer import scale_watch
from fangpin_screening.service_layer.handlers import ScreeningContext
from fangpin_screening.service_layer.rescreen import Rescreener, seconds_until_next_day

log = get_logger("fangpin.screening")


class Wiring:
    """Builds the context once at start-up and shares it with the background jobs."""

    def __init__(
        self, settings: ScreeningSettings | None, registry: HouseholdRegistry | None
    ) -> None:
        self._settings = settings
        self._registry = registry
        self.ctx: ScreeningContext | None = None
        self.rescreener: Rescreener | None = None

    @property
    def settings(self) -> ScreeningSettings:
        if self._settings is None:
            self._settings = ScreeningSettings()  # read from the environment at start-up
        return self._settings

    async def wire(self, app: ServiceApp) -> list[ServicerBinding]:
        # a bad ruleset stops the service here, before it takes any event
        rules = ScreeningRules(app.settings.rulesets_dir, app.settings.province_code)
        self.ctx = ScreeningContext(
            county=app.settings.county, rules=rules, clock=app.settings.clock
        )
        registry = self._registry or IntakeRegistry(self.settings.intake_addr, app.settings.county)
        self.rescreener = Rescreener(
            app.database,
            self.ctx,
            registry,
            batch=self.settings.rescreen_batch,
            lease_seconds=self.settings.rescreen_lease_seconds,
        )
        bus_entry.subscribe(app.bus, self.ctx)
        return [
            ServicerBinding(
                ScreeningServicer(app.database, self.ctx, self.rescreener),
                screening_pb2_grpc.add_ScreeningServiceServicer_to_server,
                screening_pb2.DESCRIPTOR.services_by_name["ScreeningService"].full_name,
            )
        ]

    async def rescreen_job(self, app: ServiceApp) -> None:
        """At start and daily: re-screen the county when a new ruleset is in force (and resume
        an interrupted run); also owns runs requested over gRPC until the service stops."""
        assert self.ctx is not None and self.rescreener is not None, "wire() runs first"
        rescreener, settings = self.rescreener, self.settings
        try:
            if not settings.rescreen_schedule:
                await asyncio.Event().wait()  # runs come from StartRescreen only
            while True:
                delay = seconds_until_next_day(self.ctx.clock())
                try:
                    outcome = await rescreener.scheduled()
                    if outcome in ("started", "resumed"):
                        await rescreener.wait()
                        latest = await rescreener.status()
                        if latest is not None and latest.status == "failed":
                            delay = min(delay, settings.rescreen_retry_seconds)
                    elif outcome == "busy":
                        delay = min(delay, settings.rescreen_retry_seconds)
                except Exception as err:  # keep the schedule; the next check retries
                    log.error("re-screen check failed", error=f"{type(err).__name__}: {err}")
                    delay = min(delay, settings.rescreen_retry_seconds)
                await asyncio.sleep(delay)
        finally:
            await rescreener.close()

    async def scale_watch_job(self, app: ServiceApp) -> None:
        """At start and daily: the village scale-risk watch (规模性返贫风险)."""
        assert self.ctx is not None, "wire() runs first"
        if not self.settings.scale_watch_schedule:
            return
        while True:
            try:
                sent = await scale_watch.watch(app.database, self.ctx, china_date(self.ctx.clock()))
                if sent:
                    log.info("scale-risk alerts sent", alerts=len(sent))
            except Exception as err:  # keep watching; the next day retries
                log.error("scale-risk watch failed", error=f"{type(err).__name__}: {err}")
            await asyncio.sleep(seconds_until_next_day(self.ctx.clock()))


def build_spec(
    settings: ScreeningSettings | None = None, registry: HouseholdRegistry | None = None
) -> ServiceSpec:
    """The service; tests pass their own settings and may pass a registry."""
    wiring = Wiring(settings, registry)
    return ServiceSpec(
        name="screening",
        metadata=metadata,
        migrations_dir=MIGRATIONS,
        wire=wiring.wire,
        background=[wiring.rescreen_job, wiring.scale_watch_job],
    )


SPEC = build_spec()
