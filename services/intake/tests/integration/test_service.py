"""Intake as a running service: a warning on the bus becomes a clue announced on the bus."""

from __future__ import annotations

from pathlib import Path

import nats

from fangpin_contracts.cloudevents import CloudEvent, headers_for, new_event
from fangpin_contracts.subjects import subject
from fangpin_intake.bootstrap import SPEC
from fangpin_intake.domain.clues import ClueRules
from fangpin_intake.service_layer import handlers
from fangpin_kit.natsserver import EmbeddedNats
from fangpin_kit.testing import running_service
from fangpin_kit.workdays import default_calendar
from intake_factories import START, household


async def test_warning_on_the_bus_is_announced_as_a_clue(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    settings = {
        "county": county,
        "nats_url": nats_server.url,
        "db_url": f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}",
    }
    async with running_service(SPEC, start=START, **settings) as app:
        ctx = handlers.IntakeContext(
            county=county,
            clue_rules=lambda _: ClueRules(verification_working_days=5),
            add_working_days=default_calendar().add_working_days,
            clock=lambda: START,
        )
        async with app.database.uow() as uow:
            await handlers.import_household(uow, ctx, household("H00001", county=county))
            await uow.commit()
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        clues = await js.subscribe(subject(county, "clue", "accepted"), durable="t")
        warning = new_event(
            domain="warning",
            event="civil_affairs",
            county=county,
            source="test",
            data={
                "dept": "civil_affairs",
                "kind": "new_dibao",
                "household_id": "H00001",
                "observed_at": "2024-06-01",
            },
        )
        await js.publish(
            subject(county, "warning", "civil_affairs"),
            warning.model_dump_json().encode(),
            headers=headers_for(warning),
        )
        msg = await clues.next_msg(timeout=10)
        accepted = CloudEvent.model_validate_json(msg.data)
        assert msg.headers["Nats-Msg-Id"] == accepted.id
        assert accepted.type == "cn.fangpin.clue.accepted.v1"
        assert accepted.correlationid == warning.id  # the warning's story continues
        assert accepted.data["household"]["safety_net"] == "dibao"
        await nc.close()
