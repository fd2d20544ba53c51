"""The county re-screen end to end: intake's registry streamed over gRPC, a new threshold taking
effect on the service's clock, only changed decisions on the bus; the operator's commands."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
from screening_integration import NOW, case_decided, household, rulesets_with_threshold
from typer.testing import CliRunner, Result

from fangpin.v1 import intake_pb2, intake_pb2_grpc, screening_pb2, screening_pb2_grpc
from fangpin_cli.main import app as cli
from fangpin_contracts.cloudevents import CloudEvent, headers_for
from fangpin_contracts.subjects import subject
from fangpin_intake.bootstrap import SPEC as INTAKE
from fangpin_kit.clock import china_date
from fangpin_kit.grpcclient import channel
from fangpin_kit.natsserver import EmbeddedNats
from fangpin_kit.runtime import ServiceApp
from fangpin_kit.testing import running_service, wait_until
from fangpin_screening.adapters.rules import ScreeningRules
from fangpin_screening.adapters.settings import ScreeningSettings
from fangpin_screening.bootstrap import build_spec


async def fangpin(address: str, *args: str) -> Result:
    env = {"FANGPIN_SCREENING_ADDR": address}
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def import_households(intake: ServiceApp, records: list[dict[str, Any]]) -> None:
    async def requests() -> AsyncIterator[intake_pb2.HouseholdRecord]:
        for n, record in enumerate(records, start=1):
            yield intake_pb2.HouseholdRecord(line=n, json=json.dumps(record))

    async with channel(f"127.0.0.1:{intake.grpc.port}") as ch:  # type: ignore[union-attr]
        outcomes = [
            o async for o in intake_pb2_grpc.IntakeServiceStub(ch).ImportHouseholds(requests())
        ]
    assert [o.status for o in outcomes] == ["created"] * len(records)


async def finished_run(app: ServiceApp, ruleset: str) -> screening_pb2.RescreenStatus:
    async with channel(f"127.0.0.1:{app.grpc.port}") as ch:  # type: ignore[union-attr]
        stub = screening_pb2_grpc.ScreeningServiceStub(ch)

        async def done() -> screening_pb2.RescreenStatus | None:
            try:
                status = await stub.GetRescreenStatus(screening_pb2.GetRescreenStatusRequest())
            except Exception:
                return None
            return status if status.ruleset == ruleset and status.status == "done" else None

        return await wait_until(done, timeout=30)


async def test_a_new_threshold_taking_effect_rescreens_the_county_and_announces_the_changes(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    today = china_date(NOW)
    change = today + dt.timedelta(days=30)
    rulesets = rulesets_with_threshold(tmp_path / "rulesets", change, 9000)
    records = [
        household("H0000001", per_capita=5000.0, county=county),
        household("H0000002", per_capita=8000.0, county=county),
        household("H0000003", per_capita=20000.0, county=county),
    ]
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    base: dict[str, Any] = {"county": county, "nats_url": nats_server.url}
    async with running_service(
        INTAKE, start=NOW, **base, db_url=f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}"
    ) as intake:
        await import_households(intake, records)
        settings = ScreeningSettings(
            intake_addr=f"127.0.0.1:{intake.grpc.port}", scale_watch_schedule=False
        )
        screening: dict[str, Any] = {
            **base,
            "province": "99",
            "rulesets_dir": rulesets,
            "db_url": f"sqlite+aiosqlite:///{tmp_path / 'screening.db'}",
        }
        async with running_service(build_spec(settings), start=NOW, **screening) as app:
            decided = await js.subscribe(subject(county, "screening", "decided"), durable="t")
            # the first start records the ruleset in force today as the baseline
            baseline = await finished_run(app, ScreeningRules(rulesets, None).ruleset_id(today))
            assert (baseline.trigger, baseline.done) == ("baseline", 0)
            # the county's first screening is the operator's: `fangpin screening rescreen`
            address = f"127.0.0.1:{app.grpc.port}"  # type: ignore[union-attr]
            ran = await fangpin(address, "screening", "rescreen", "--poll", "0.1")
            assert ran.exit_code == 0, ran.output
            [first] = json_lines(ran.stdout)
            assert (first["trigger"], first["total"], first["done"], first["changed"]) == (
                "request",
                3,
                3,
                1,
            )
            assert "3/3 households, 1 changed, 0 rejected" in ran.stderr
            event = CloudEvent.model_validate_json((await decided.next_msg(timeout=10)).data)
            assert (event.subject, event.data["reason"]) == ("H0000001", "rescreen")

        # a month later the 9000 threshold is in force: the start-up check re-screens
        a_month_later = NOW + dt.timedelta(days=31)
        async with running_service(build_spec(settings), start=a_month_later, **screening) as app:
            second = await finished_run(app, f"cn@{change.isoformat()}")
            assert (second.done, second.changed, second.rejected) == (3, 2, 0)
            events = [
                CloudEvent.model_validate_json((await decided.next_msg(timeout=10)).data)
                for _ in range(2)
            ]
            assert [(e.subject, e.data["decision"]["threshold"]) for e in events] == [
                ("H0000001", 9000),
                ("H0000002", 9000),
            ]
            assert events[1].data["decision"]["in_scope"] is True

            address = f"127.0.0.1:{app.grpc.port}"  # type: ignore[union-attr]
            ran = await fangpin(address, "screening", "rescreen", "--poll", "0.1")
            assert ran.exit_code == 0, ran.output
            [final] = json_lines(ran.stdout)
            assert (final["status"], final["done"], final["changed"]) == ("done", 3, 0)

            status = await fangpin(address, "screening", "rescreen-status", final["run_id"])
            assert json_lines(status.stdout)[0]["trigger"] == "request"
            history = await fangpin(address, "screening", "decisions", "H0000002", "--trace")
            [latest] = json_lines(history.stdout)
            assert (latest["reason"], latest["in_scope"], latest["clue_id"]) == (
                "rescreen",
                True,
                None,
            )
            assert any(t["rule"] == "income_below_threshold" and t["hit"] for t in latest["trace"])

            approved = case_decided(records[1], risk_types=["other"], county=county)
            await js.publish(
                subject(county, "case", "decided"),
                approved.model_dump_json().encode(),
                headers=headers_for(approved),
            )

            async def checked() -> Result | None:
                result = await fangpin(address, "elimination", "check", "H0000002", "H0000404")
                return result if '"status": "not_yet"' in result.stdout else None

            check = await wait_until(checked, timeout=15)
            assert check.exit_code == 1  # H0000404 is not monitored
            monitored, unknown = json_lines(check.stdout)
            assert "income_not_stable" in monitored["failing"]
            assert unknown["error"].startswith("FAILED_PRECONDITION: household_id: H0000404")
    await nc.close()
