"""Screening as a running service: clues in and decisions out over the bus, the elimination
check over gRPC from events on the bus, scale-risk alerts announced once."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import nats
import pytest
from nats.js.api import ConsumerConfig
from screening_integration import (
    NOW,
    case_decided,
    clue_event,
    household,
    measure_events,
    quarter_income,
)

from fangpin.v1 import common_pb2, screening_pb2, screening_pb2_grpc
from fangpin_contracts.cloudevents import MSG_ID_HEADER, CloudEvent, headers_for
from fangpin_contracts.subjects import stream_name, subject
from fangpin_kit.clock import china_date
from fangpin_kit.grpcclient import channel
from fangpin_kit.natsserver import EmbeddedNats
from fangpin_kit.runtime import ServiceApp
from fangpin_kit.testing import running_service, wait_until
from fangpin_screening.adapters.orm import DecisionRow
from fangpin_screening.adapters.settings import ScreeningSettings
from fangpin_screening.bootstrap import build_spec

QUIET = ScreeningSettings(rescreen_schedule=False, scale_watch_schedule=False)


@asynccontextmanager
async def screening(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> AsyncIterator[tuple[ServiceApp, screening_pb2_grpc.ScreeningServiceStub]]:
    settings: dict[str, Any] = {
        "county": county,
        "province": "99",  # no province file: the national baseline, whatever the county code
        "nats_url": nats_server.url,
        "db_url": f"sqlite+aiosqlite:///{tmp_path / 'screening.db'}",
    }
    async with (
        running_service(build_spec(QUIET), start=NOW, **settings) as app,
        channel(f"127.0.0.1:{app.grpc.port}") as ch,  # type: ignore[union-attr]
    ):
        yield app, screening_pb2_grpc.ScreeningServiceStub(ch)


async def publish(js: Any, event: CloudEvent, subj: str, msg_id: str | None = None) -> None:
    headers = headers_for(event)
    if msg_id:
        headers[MSG_ID_HEADER] = msg_id
    await js.publish(subj, event.model_dump_json().encode(), headers=headers)


async def decisions_of(app: ServiceApp, household_id: str) -> list[DecisionRow]:
    import sqlalchemy as sa

    async with app.session() as session:
        query = sa.select(DecisionRow).where(DecisionRow.household_id == household_id)
        return list((await session.execute(query)).scalars())


async def test_a_clue_on_the_bus_is_decided_once_even_when_delivered_twice(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    record = household("H0000001", per_capita=5000.0, county=county)
    async with screening(tmp_path, nats_server, county) as (app, stub):
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        decided = await js.subscribe(subject(county, "screening", "decided"), durable="t")
        clue = clue_event("CL-1", record, registered_at=NOW, county=county)
        accepted = subject(county, "clue", "accepted")
        await publish(js, clue, accepted)
        await publish(js, clue, accepted, msg_id="a-redelivery")  # past the stream's dedupe

        msg = await decided.next_msg(timeout=15)
        event = CloudEvent.model_validate_json(msg.data)
        assert msg.headers[MSG_ID_HEADER] == event.id == "CL-1.decided"
        assert event.correlationid == clue.id  # the clue's story continues
        assert event.data["decision"]["in_scope"] is True
        assert event.data["decision"]["as_of"] == china_date(NOW).isoformat()

        async def both_delivered() -> bool:
            info = await js.consumer_info(stream_name(county, "clue"), "screening-clues")
            return info.delivered.stream_seq == 2 and info.num_ack_pending == 0

        await wait_until(both_delivered, timeout=15)
        [row] = await decisions_of(app, "H0000001")
        assert row.decision["trace"] == event.data["decision"]["trace"]
        with pytest.raises(TimeoutError):
            await decided.next_msg(timeout=1)

        listed = await stub.ListDecisions(
            screening_pb2.ListDecisionsRequest(household_id="H0000001")
        )
        [stored] = listed.decisions
        assert (stored.reason, stored.clue_id, stored.decision_id) == (
            "clue",
            "CL-1",
            row.decision_id,
        )
        assert stored.trace and stored.category == "marginal"
        stats = await stub.GetStats(common_pb2.StatsRequest())
        assert (stats.counts["decisions"], stats.counts["in_scope"]) == (1, 1)
        await nc.close()


async def test_screen_over_grpc_decides_a_record_and_names_a_bad_field(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    record = household("H0000002", per_capita=20000.0, county=county)
    async with screening(tmp_path, nats_server, county) as (_, stub):
        decision = await stub.Screen(
            screening_pb2.ScreenRequest(household_json=json.dumps(record), as_of="2024-06-29")
        )
        assert (decision.ruleset, decision.in_scope, decision.threshold) == (
            "cn@2024-01-01",
            False,
            7300,
        )
        assert decision.reason == "request" and len(decision.trace) > 10
        jiangxi = await stub.Screen(
            screening_pb2.ScreenRequest(
                household_json=json.dumps(record), as_of="2024-06-29", province="36"
            )
        )
        assert jiangxi.ruleset.startswith("cn-36@")

        bad = household("H0000003", county=county)
        digit = bad["members"][0]["id_number"]
        bad["members"][0]["id_number"] = digit[:-1] + ("0" if digit[-1] != "0" else "1")
        as_json = json.dumps(record)
        cases = [
            (dict(household_json=json.dumps(bad)), "members[0].id_number: bad check digit"),
            (dict(household_json="{oops"), "household_json: invalid JSON"),
            (dict(household_json=as_json, as_of="2024-13-01"), "as_of: '2024-13-01' is not a"),
            (dict(household_json=as_json, province="9"), "province: two digits"),
            (
                dict(household_json=as_json, as_of="2019-01-01"),
                "as_of: no screening ruleset in force on 2019-01-01",
            ),
        ]
        for fields, message in cases:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Screen(screening_pb2.ScreenRequest(**fields))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert err.value.details().startswith(message), err.value.details()
        tomorrow = (china_date(NOW) + dt.timedelta(days=1)).isoformat()
        refused = [
            (stub.ListDecisions(screening_pb2.ListDecisionsRequest()), "household_id: required"),
            (
                stub.CheckElimination(screening_pb2.CheckEliminationRequest()),
                "household_id: required",
            ),
            (
                stub.StartRescreen(screening_pb2.StartRescreenRequest(as_of=tomorrow)),
                f"as_of: {tomorrow} is after today",
            ),
            (
                stub.ListScaleRiskAlerts(screening_pb2.ListScaleRiskAlertsRequest(village="x1")),
                "village: a region code (digits)",
            ),
        ]
        for call, message in refused:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert err.value.details().startswith(message), err.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetRescreenStatus(screening_pb2.GetRescreenStatusRequest(run_id="R-none"))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


def last_two_quarters(today: dt.date) -> list[tuple[int, int]]:
    """The two quarters ended by `today`, oldest first."""
    index = today.year * 4 + (today.month - 1) // 3 - 1  # the quarter before today's
    return [((i // 4), i % 4 + 1) for i in (index - 1, index)]


async def test_elimination_check_over_grpc_follows_cases_income_and_measures_on_the_bus(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    record = household("H0000004", per_capita=12000.0, county=county)
    today = china_date(NOW)
    async with screening(tmp_path, nats_server, county) as (_, stub):
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        request = screening_pb2.CheckEliminationRequest(household_id="H0000004")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.CheckElimination(request)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

        approved = case_decided(
            record, at=NOW - dt.timedelta(days=400), risk_types=["illness"], county=county
        )
        await publish(js, approved, subject(county, "case", "decided"))
        for year, quarter in last_two_quarters(today):
            income = quarter_income(record, year, quarter, 3100.0, county=county)
            await publish(js, income, subject(county, "followup", "income_recorded"))

        async def eligible() -> screening_pb2.EliminationCheck | None:
            try:
                check = await stub.CheckElimination(request)
            except grpc.aio.AioRpcError:
                return None
            return check if check.status == "eligible" else None

        check = await wait_until(eligible, timeout=15)
        assert (check.mode, check.monitoring_status, list(check.failing)) == (
            "natural",
            "monitored",
            [],
        )
        assert list(check.identified_risks) == ["illness"]
        assert [q.per_capita for q in check.income] == [12400.0, 12400.0]
        assert json.loads(check.values_json)["stable_months"] == 6

        for event in measure_events(record, "M-4", "completed", county=county):
            await publish(js, event, subject(county, "measure", event.type.split(".")[3]))

        async def assisted() -> bool:
            return (await stub.CheckElimination(request)).mode == "assisted"

        await wait_until(assisted, timeout=15)
        await nc.close()


async def test_a_cluster_of_disaster_clues_is_announced_as_a_scale_risk_once(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    async with screening(tmp_path, nats_server, county) as (_, stub):
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        alerts = await js.subscribe(
            subject(county, "screening", "scale_risk"),
            durable="alerts",
            config=ConsumerConfig(ack_wait=30),
        )
        for n in range(7):
            record = household(f"H00005{n:02d}", per_capita=9000.0, county=county)
            clue = clue_event(f"CL-5{n}", record, kind="disaster", registered_at=NOW, county=county)
            await publish(js, clue, subject(county, "clue", "accepted"))

        msg = await alerts.next_msg(timeout=15)
        alert = CloudEvent.model_validate_json(msg.data)
        assert alert.data["indicator"] == "warning_cluster"
        assert alert.data["details"]["warning_kind"] == "disaster"

        async def all_decided() -> bool:
            return (await stub.GetStats(common_pb2.StatsRequest())).counts["decisions"] == 7

        await wait_until(all_decided, timeout=15)
        with pytest.raises(TimeoutError):
            await alerts.next_msg(timeout=1)
        listed = await stub.ListScaleRiskAlerts(
            screening_pb2.ListScaleRiskAlertsRequest(active_only=True)
        )
        assert [a.alert_id for a in listed.alerts] == [alert.data["alert_id"]]
        await nc.close()
