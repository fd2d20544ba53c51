"""Wires intake's adapters into its use cases: the composition root of the service."""

from __future__ import annotations

from fangpin.v1 import intake_pb2, intake_pb2_grpc
from fangpin_intake.adapters.orm import MIGRATIONS, metadata
from fangpin_intake.adapters.rules import clue_rules_provider
from fangpin_intake.entrypoints import bus as bus_entry
from fangpin_intake.entrypoints.grpc import IntakeServicer
from fangpin_intake.service_layer.handlers import IntakeContext
from fangpin_kit.grpcserver import ServicerBinding
from fangpin_kit.runtime import ServiceApp, ServiceSpec
from fangpin_kit.workdays import load_calendar


def context_for(app: ServiceApp) -> IntakeContext:
    return IntakeContext(
        county=app.settings.county,
        clue_rules=clue_rules_provider(app.settings.rulesets_dir, app.settings.province_code),
        add_working_days=load_calendar(
            app.settings.rulesets_dir, app.settings.calendar_file
        ).add_working_days,
        clock=app.settings.clock,
    )


async def wire(app: ServiceApp) -> list[ServicerBinding]:
    ctx = context_for(app)
    bus_entry.subscribe(app.bus, ctx)
    return [
        ServicerBinding(
            IntakeServicer(app.database, ctx),
            intake_pb2_grpc.add_IntakeServiceServicer_to_server,
            intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].full_name,
        )
    ]


SPEC = ServiceSpec(name="intake", metadata=metadata, migrations_dir=MIGRATIONS, wire=wire)
