"""Assistance as a running service: decisions in, dispatches out, department replies back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import grpc
import nats
import pytest
import sqlalchemy as sa

from assistance_support import FakeClock, case_decided, ill_household_in_unsafe_house, reply
from fangpin.v1 import assistance_pb2, assistance_pb2_grpc, common_pb2
from fangpin_assistance.adapters.orm import HistoryRow, ReplyRow
from fangpin_assistance.adapters.settings import AssistanceSettings
from fangpin_assistance.bootstrap import build_spec
from fangpin_assistance.domain.codes import Department
from fangpin_assistance.domain.measure import dispatch_id_for
from fangpin_assistance.domain.simulator import Behaviour, SimulatorPolicy
from fangpin_cli.dept import SimulatorRun, run_simulator
from fangpin_contracts.cloudevents import MSG_ID_HEADER, CloudEvent, headers_for
from fangpin_contracts.subjects import stream_name
from fangpin_kit.grpcclient import channel
from fangpin_kit.natsserver import EmbeddedNats
from fangpin_kit.runtime import ServiceApp
from fangpin_kit.testing import running_service, wait_until


@asynccontextmanager
async def assistance(
    tmp_path: Path, nats_server: EmbeddedNats, county: str, clock: FakeClock
) -> AsyncIterator[tuple[ServiceApp, assistance_pb2_grpc.AssistanceServiceStub]]:
    spec = build_spec(AssistanceSettings(sweep_seconds=0.1), clock=clock)
    async with (
        running_service(
            spec,
            start=clock.now,
            county=county,
            nats_url=nats_server.url,
            db_url=f"sqlite+aiosqlite:///{tmp_path / 'assistance.db'}",
            outbox_poll_seconds=0.05,
        ) as app,
        channel(f"127.0.0.1:{app.grpc.port}") as ch,  # type: ignore[union-attr]
    ):
        yield app, assistance_pb2_grpc.AssistanceServiceStub(ch)


class Observer:
    """Everything published on the county's subjects of interest, in arrival order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, CloudEvent, str]] = []

    async def start(self, url: str, county: str) -> nats.NATS:
        nc = await nats.connect(url)

        async def collect(msg: Any) -> None:
            event = CloudEvent.model_validate_json(msg.data)
            self.events.append((msg.subject, event, msg.headers.get(MSG_ID_HEADER, "")))

        await nc.subscribe(f"fp.{county}.>", cb=collect)
        return nc

    def on(self, suffix: str) -> list[CloudEvent]:
        return [e for s, e, _ in self.events if s.endswith(suffix)]


async def publish(js: Any, subject: str, event: CloudEvent, msg_id: str | None = None) -> Any:
    headers = headers_for(event)
    if msg_id:
        headers[MSG_ID_HEADER] = msg_id
    return await js.publish(subject, event.model_dump_json().encode(), headers=headers)


def simulator(
    url: str, county: str, dept: str, behaviour: Behaviour
) -> tuple[asyncio.Task[SimulatorRun], SimulatorRun, asyncio.Event]:
    policy = SimulatorPolicy(
        department=Department(dept),
        weights=MappingProxyType({behaviour: 1.0}),
        reply_after=timedelta(0),
        complete_after=timedelta(0),
    )
    run, stop = SimulatorRun(), asyncio.Event()
    task = asyncio.create_task(run_simulator(url, county, policy, run=run, stop=stop))
    return task, run, stop


async def measures(
    stub: assistance_pb2_grpc.AssistanceServiceStub, **query: Any
) -> list[assistance_pb2.Measure]:
    return list((await stub.ListMeasures(assistance_pb2.ListMeasuresRequest(**query))).measures)


async def test_identification_to_three_departments_accept_reject_and_silence(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    """The must-show run: hrss completes, housing rejects (a replacement is proposed),
    medical insurance stays silent (re-dispatched under the same dispatch id, then escalated)."""
    clock = FakeClock()
    observer = Observer()
    observer_nc = await observer.start(nats_server.url, county)
    async with assistance(tmp_path, nats_server, county, clock) as (app, stub):
        await stub.AssignContactCadre(
            assistance_pb2.AssignContactCadreRequest(region=county, cadre_id="cadre-wang")
        )
        sims = {
            "hrss": simulator(nats_server.url, county, "hrss", Behaviour.COMPLETE),
            "housing": simulator(nats_server.url, county, "housing", Behaviour.REJECT),
            "medical_insurance": simulator(
                nats_server.url, county, "medical_insurance", Behaviour.SILENT
            ),
        }
        for _, run, _ in sims.values():
            await asyncio.wait_for(run.ready.wait(), 10)

        record = ill_household_in_unsafe_house("H00001", county)
        decided = case_decided(record, at=clock.now)
        await publish(app.bus.js, f"fp.{county}.case.decided", decided)

        async def settled() -> bool:
            by_dept = {m.dept: m.status for m in await measures(stub, household_id="H00001")}
            return by_dept == {
                "hrss": "completed",
                "housing": "rejected",
                "medical_insurance": "dispatched",
            }

        await wait_until(settled, timeout=20)
        plan = await stub.GetPlan(assistance_pb2.GetPlanRequest(household_id="H00001"))
        assert plan.status == "active"
        [proposal] = plan.replacements
        rejected = next(m for m in plan.measures if m.dept == "housing")
        assert (proposal.measure_id, proposal.proposed_key, proposal.status) == (
            rejected.measure_id,
            "relocation.resettlement",
            "open",
        )
        assert rejected.reason in ("not_eligible", "quota_exhausted", "documents_missing")
        await wait_until(lambda: observer.on(".task.due"), timeout=10)
        replacement_tasks = [e for e in observer.on(".task.due") if e.id.startswith("replace:")]
        assert [e.data["details"]["proposed"] for e in replacement_tasks] == [
            "relocation.resettlement"
        ]

        # the silent department: re-dispatched twice under the same dispatch id, then escalated
        silent_run = sims["medical_insurance"][1]
        await wait_until(lambda: len(silent_run.handled) == 1, timeout=10)
        for attempt in (2, 3):
            clock.advance(hours=72)
            await wait_until(lambda a=attempt: len(silent_run.handled) == a, timeout=10)
        clock.advance(hours=72)
        await wait_until(lambda: observer.on(".measure.overdue"), timeout=10)

        silent = next(m for m in plan.measures if m.dept == "medical_insurance")
        dispatch_id = dispatch_id_for(silent.measure_id)
        assert [(h.dispatch_id, h.attempt, h.replies) for h in silent_run.handled] == [
            (dispatch_id, 1, []),
            (dispatch_id, 2, []),
            (dispatch_id, 3, []),
        ]
        envelope_ids = [
            (e.id, e.data["dispatch_id"])
            for e in observer.on(".measure.dispatched.medical_insurance")
        ]
        assert envelope_ids == [
            (dispatch_id, dispatch_id),
            (f"{dispatch_id}.attempt-2", dispatch_id),
            (f"{dispatch_id}.attempt-3", dispatch_id),
        ]
        [overdue] = observer.on(".measure.overdue")
        assert (overdue.data["measure_id"], overdue.data["attempts"]) == (silent.measure_id, 3)
        assert overdue.data["escalate_to"] == "county"
        [escalated] = await measures(stub, overdue=True)
        assert (escalated.measure_id, escalated.dispatch_attempts) == (silent.measure_id, 3)

        hrss_run, housing_run = sims["hrss"][1], sims["housing"][1]
        assert [h.replies for h in hrss_run.handled] == [["accepted", "completed"]]
        assert [h.replies for h in housing_run.handled] == [["rejected"]]
        [created] = observer.on(".plan.created")
        assert (created.data["status"], len(created.data["measures"])) == ("active", 3)
        stats = await stub.GetStats(common_pb2.StatsRequest())
        assert stats.counts["plans"] == 1
        assert stats.counts["measures_dispatched"] == 3
        assert stats.counts["measures_overdue"] == 1
        for task, _, stop in sims.values():
            stop.set()
            await asyncio.wait_for(task, 10)
    await observer_nc.close()


async def test_same_department_reply_delivered_three_times_changes_the_measure_once(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    clock = FakeClock()
    async with assistance(tmp_path, nats_server, county, clock) as (app, stub):
        await stub.AssignContactCadre(
            assistance_pb2.AssignContactCadreRequest(region=county, cadre_id="cadre-wang")
        )
        js = app.bus.js
        record = ill_household_in_unsafe_house("H00001", county)
        await publish(js, f"fp.{county}.case.decided", case_decided(record, at=clock.now))
        await wait_until(lambda: measures(stub, dept="hrss", status="dispatched"), timeout=10)
        [job] = await measures(stub, dept="hrss")
        accepted = reply("accepted", job.measure_id, "hrss", event_id="hrss-reply-1", county=county)
        for n in (1, 2, 3):  # a new Nats-Msg-Id each time: JetStream stores all three
            ack = await publish(js, f"fp.{county}.measure.accepted", accepted, f"hrss-reply-1#{n}")
            assert not ack.duplicate

        async def all_delivered() -> bool:
            info = await js.consumer_info(stream_name(county, "measure"), "assistance-replies")
            return (
                info.num_pending == 0
                and info.num_ack_pending == 0
                and info.delivered.stream_seq >= ack.seq
            )

        await wait_until(all_delivered, timeout=10)
        [job] = await measures(stub, dept="hrss")
        assert job.status == "in_progress"
        async with app.database.sessions() as session:
            changes = (
                (
                    await session.execute(
                        sa.select(HistoryRow).where(HistoryRow.reply_id == "hrss-reply-1")
                    )
                )
                .scalars()
                .all()
            )
            logged = (await session.execute(sa.select(ReplyRow))).scalars().all()
            inbox = app.database.tables.inbox
            processed = (
                await session.execute(
                    sa.select(sa.func.count())
                    .select_from(inbox)
                    .where(inbox.c.event_id == "hrss-reply-1")
                )
            ).scalar_one()
        assert [h.details["new"] for h in changes] == ["accepted", "in_progress"]
        assert [(r.reply_id, r.outcome) for r in logged] == [("hrss-reply-1", "applied")]
        assert processed == 1


async def test_grpc_and_cli_show_violations_and_refuse_bad_input_naming_the_field(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    from typer.testing import CliRunner

    from fangpin_cli.main import app as cli

    clock = FakeClock()
    async with assistance(tmp_path, nats_server, county, clock) as (app, stub):
        record = ill_household_in_unsafe_house("H00002", county)
        await publish(app.bus.js, f"fp.{county}.case.decided", case_decided(record, at=clock.now))

        async def planned() -> assistance_pb2.Plan | None:
            try:
                return await stub.GetPlan(assistance_pb2.GetPlanRequest(household_id="H00002"))
            except grpc.aio.AioRpcError:
                return None

        plan = await wait_until(planned, timeout=10)
        assert (plan.status, list(plan.violations)) == ("proposed", ["contact_cadre_required"])

        async def refused(call: Any, code: grpc.StatusCode) -> str:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call
            assert err.value.code() == code, err.value.details()
            return str(err.value.details())

        confirm = assistance_pb2.ConfirmPlanRequest(household_id="H00002", by="cadre-li")
        detail = await refused(stub.ConfirmPlan(confirm), grpc.StatusCode.FAILED_PRECONDITION)
        assert detail == "plan rules violated: contact_cadre_required"
        bad_add = assistance_pb2.AdjustPlanRequest(
            household_id="H00002",
            by="cadre-li",
            reason="x",
            add=[assistance_pb2.MeasureInput(measure_key="finance.lottery")],
        )
        detail = await refused(stub.AdjustPlan(bad_add), grpc.StatusCode.INVALID_ARGUMENT)
        assert detail.startswith("add[0].measure_key: unknown measure")
        bad_waiver = assistance_pb2.ConfirmPlanRequest(
            household_id="H00002",
            by="cadre-li",
            waivers=[assistance_pb2.WaiverInput(violation="contact_cadre_required")],
        )
        detail = await refused(stub.ConfirmPlan(bad_waiver), grpc.StatusCode.INVALID_ARGUMENT)
        assert detail == "waivers[0].reason: required"
        visit = assistance_pb2.RecordVisitRequest(
            household_id="H00002", visited_on="2024-13-01", cadre_id="cadre-li"
        )
        detail = await refused(stub.RecordVisit(visit), grpc.StatusCode.INVALID_ARGUMENT)
        assert detail.startswith("visited_on: not a date")
        unknown = assistance_pb2.GetPlanRequest(household_id="H99999")
        await refused(stub.GetPlan(unknown), grpc.StatusCode.NOT_FOUND)

        assigned = await stub.AssignContactCadre(
            assistance_pb2.AssignContactCadreRequest(household_id="H00002", cadre_id="cadre-li")
        )
        assert (list(assigned.cadres), list(assigned.violations)) == (["cadre-li"], [])
        plan = await stub.ConfirmPlan(confirm)
        assert plan.status == "active"
        assert [m.status for m in plan.measures] == ["dispatched"] * 3

        clock.advance(days=45)  # the monthly visit was missed: the sweep announces it

        async def overdue_visits() -> list[assistance_pb2.Task]:
            request = assistance_pb2.ListTasksRequest(overdue=True, kind="visit")
            return list((await stub.ListTasks(request)).tasks)

        await wait_until(overdue_visits, timeout=10)

        env = {"FANGPIN_ASSISTANCE_ADDR": f"127.0.0.1:{app.grpc.port}"}  # type: ignore[union-attr]
        runner = CliRunner()

        def cli_lines(*args: str) -> list[dict[str, Any]]:
            result = runner.invoke(cli, list(args), env=env)
            assert result.exit_code == 0, result.output
            # the service runs in this process and logs to stdout too: keep the JSON lines
            return [json.loads(line) for line in result.stdout.splitlines() if line[:1] == "{"]

        [shown] = await asyncio.to_thread(cli_lines, "plan", "show", "H00002")
        assert (shown["status"], shown["contact_cadres"]) == ("active", ["cadre-li"])
        hrss = await asyncio.to_thread(cli_lines, "measures", "list", "--dept", "hrss")
        assert [m["status"] for m in hrss] == ["dispatched"]
        overdue = await asyncio.to_thread(cli_lines, "followup", "tasks", "--overdue")
        assert overdue and all(t["overdue"] for t in overdue)
        assert {t["kind"] for t in overdue} == {"visit"}
        visited = await asyncio.to_thread(
            cli_lines,
            "followup",
            "visit",
            "H00002",
            "--cadre",
            "cadre-li",
            "--on",
            clock.now.date().isoformat(),
        )
        assert visited[0]["closed_tasks"]
        result = await asyncio.to_thread(
            runner.invoke, cli, ["plan", "confirm", "H00002", "--by", "x"], env=env
        )
        assert result.exit_code == 2
        assert "FAILED_PRECONDITION" in result.output
