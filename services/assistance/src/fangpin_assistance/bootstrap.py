"""Wires assistance's adapters into its use cases: the composition root of the service."""

from __future__ import annotations

from pathlib import Path

import yaml

from fangpin.v1 import assistance_pb2, assistance_pb2_grpc
from fangpin_assistance.adapters.orm import MIGRATIONS, metadata
from fangpin_assistance.adapters.rules import assistance_rules_provider, county_catalog
from fangpin_assistance.adapters.settings import AssistanceSettings
from fangpin_assistance.entrypoints import bus as bus_entry
from fangpin_assistance.entrypoints.grpc import AssistanceServicer
from fangpin_assistance.entrypoints.scheduler import sweep_forever
from fangpin_assistance.service_layer import handlers
from fangpin_assistance.service_layer.handlers import AssistanceContext, InvalidInput
from fangpin_kit.clock import Clock, china_date
from fangpin_kit.db import Database
from fangpin_kit.grpcserver import ServicerBinding
from fangpin_kit.runtime import ServiceApp, ServiceSpec


class RosterFileError(ValueError):
    """A cadre roster file that cannot be loaded; names the file and the entry."""


def context_for(app: ServiceApp, settings: AssistanceSettings, clock: Clock) -> AssistanceContext:
    return AssistanceContext(
        county=app.settings.county,
        params_on=assistance_rules_provider(
            app.settings.rulesets_dir, app.settings.province_code, check_on=china_date(clock())
        ),
        catalog=county_catalog(settings.catalog_extension_paths),
        clock=clock,
        task_lookahead_days=settings.task_lookahead_days,
    )


async def load_roster(database: Database, ctx: AssistanceContext, path: Path) -> int:
    """Put the cadres of a `{region: [cadre ids]}` YAML file on the roster (idempotent)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise RosterFileError(f"{path}: cannot load: {err}") from err
    if not isinstance(document, dict):
        raise RosterFileError(f"{path}: expected a mapping of region code to cadre ids")
    assigned = 0
    async with database.uow() as uow:
        for region, cadres in document.items():
            if not isinstance(cadres, list) or not all(isinstance(c, str) for c in cadres):
                raise RosterFileError(f"{path}: {region}: expected a list of cadre ids")
            for cadre_id in cadres:
                try:
                    await handlers.assign_region_cadre(uow, ctx, str(region), cadre_id, "roster")
                except InvalidInput as err:
                    raise RosterFileError(f"{path}: {region}: {err}") from err
                assigned += 1
        await uow.commit()
    return assigned


class Wiring:
    """Builds the context once at start-up and shares it with the background sweep."""

    def __init__(self, settings: AssistanceSettings | None, clock: Clock | None) -> None:
        self._settings = settings
        self.clock = clock
        self.ctx: AssistanceContext | None = None

    @property
    def settings(self) -> AssistanceSettings:
        if self._settings is None:
            self._settings = AssistanceSettings()  # read from the environment at start-up
        return self._settings

    async def wire(self, app: ServiceApp) -> list[ServicerBinding]:
        # the service clock (honours FANGPIN_CLOCK_OFFSET_SECONDS) unless a test passed one
        self.ctx = context_for(app, self.settings, self.clock or app.settings.clock)
        if self.settings.cadre_roster is not None:
            await load_roster(app.database, self.ctx, self.settings.cadre_roster)
        bus_entry.subscribe(app.bus, self.ctx)
        return [
            ServicerBinding(
                AssistanceServicer(app.database, self.ctx),
                assistance_pb2_grpc.add_AssistanceServiceServicer_to_server,
                assistance_pb2.DESCRIPTOR.services_by_name["AssistanceService"].full_name,
            )
        ]

    async def sweep(self, app: ServiceApp) -> None:
        assert self.ctx is not None, "wire() runs before the background jobs"
        await sweep_forever(app.database, self.ctx, self.settings.sweep_seconds)


def build_spec(
    settings: AssistanceSettings | None = None, clock: Clock | None = None
) -> ServiceSpec:
    """The service; tests pass their own settings (short sweeps) and a clock they move."""
    wiring = Wiring(settings, clock)
    return ServiceSpec(
        name="assistance",
        metadata=metadata,
        migrations_dir=MIGRATIONS,
        wire=wiring.wire,
        background=[wiring.sweep],
    )


SPEC = build_spec()
