"""The whole suite as separate processes: a department warning travels through intake,
screening and the five signed steps of approval to a plan, a measure dispatched to its lead
department, and notices; each service's own store is checked."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import nats
import pytest

from fangpin.v1 import (
    approval_pb2,
    approval_pb2_grpc,
    assistance_pb2,
    assistance_pb2_grpc,
)
from fangpin_cli.bus import publish_warnings
from fangpin_cli.demo import id_number
from fangpin_contracts.cloudevents import CloudEvent
from fangpin_contracts.subjects import subject
from fangpin_kit.clock import in_china
from fangpin_kit.grpcclient import channel
from fangpin_kit.testing import wait_until

from .harness import import_households, running_suite, store_count, store_rows

pytestmark = pytest.mark.e2e

COUNTY = "652827"
TOWN = f"{COUNTY}100"
VILLAGE = f"{TOWN}011"
DAY = 86400
# Monday 23 November 2026, 10:00 in China: three days after the warning was observed
START = in_china(date(2026, 11, 23))


def low_income_household() -> dict[str, object]:
    return {
        "household_id": "H652827E2E01",
        "region": {"county": COUNTY, "town": TOWN, "village": VILLAGE},
        "formerly_poor": True,
        "members": [
            {
                "id_number": id_number(COUNTY, date(1975, 4, 2), 101),
                "name": "张建国",
                "relation": "head",
                "birth_date": "1975-04-02",
                "labor_capacity": "full",
                "employment": "farming",
                "illness": "chronic",
            },
            {
                "id_number": id_number(COUNTY, date(1978, 9, 9), 102),
                "name": "李秀英",
                "relation": "spouse",
                "birth_date": "1978-09-09",
                "labor_capacity": "weak",
                "employment": "farming",
            },
        ],
        "income": {"wage": 3000, "business": 5000, "production_costs": 1000},
        "expenses": {"medical_self_paid": 12000},
    }


def actor(key: str, level: str, region: str, role: str) -> approval_pb2.Actor:
    return approval_pb2.Actor(id=key, name=f"干部{key}", role=role, level=level, region=region)


VILLAGE_CADRE = actor("v1", "village", VILLAGE, "village_cadre")
VILLAGE_SECRETARY = actor("v2", "village", VILLAGE, "village_secretary")
TOWN_REVIEWER = actor("t1", "town", TOWN, "town_reviewer")
COUNTY_BUREAU = actor("c1", "county", COUNTY, "county_bureau")


async def test_warning_to_dispatched_measure_and_notices(tmp_path: Path) -> None:
    household = low_income_household()
    async with running_suite(tmp_path, start=START, county=COUNTY) as suite:
        assert suite.nats is not None
        nc = await nats.connect(suite.nats.url)
        js = nc.jetstream()
        await import_households(suite, [household])
        async with channel(suite.address("assistance")) as ch:
            await assistance_pb2_grpc.AssistanceServiceStub(ch).AssignContactCadre(
                assistance_pb2.AssignContactCadreRequest(
                    region=VILLAGE, cadre_id="cadre-zhang", by="e2e"
                )
            )
        dispatched = await js.subscribe(
            subject(COUNTY, "measure", "dispatched", ">"), durable="e2e-measures"
        )
        decided = await js.subscribe(subject(COUNTY, "case", "decided"), durable="e2e-decided")
        await publish_warnings(
            suite.nats.url,
            COUNTY,
            [
                {
                    "event_id": "e2e-warning-1",
                    "data": {
                        "dept": "medical_insurance",
                        "kind": "high_medical_expense",
                        "household_id": household["household_id"],
                        "observed_at": "2026-11-20",
                        "amount": 12000.0,
                    },
                }
            ],
            "e2e",
        )

        async def open_case() -> approval_pb2.Case | None:
            async with channel(suite.address("approval")) as ch:
                reply = await approval_pb2_grpc.ApprovalServiceStub(ch).ListCases(
                    approval_pb2.ListCasesRequest(household_id=str(household["household_id"]))
                )
            return reply.cases[0] if reply.cases else None

        case = await wait_until(open_case, timeout=30)
        assert case.step == "application"
        case_id = case.case_id

        async def act(method: str, request: object) -> approval_pb2.Case:
            async with channel(suite.address("approval")) as ch:
                return await getattr(approval_pb2_grpc.ApprovalServiceStub(ch), method)(request)

        def sign(
            step: str, who: approval_pb2.Actor, **extra: object
        ) -> approval_pb2.SignStepRequest:
            return approval_pb2.SignStepRequest(case_id=case_id, step=step, actor=who, **extra)

        await act(
            "SignStep", sign("application", VILLAGE_CADRE, comment="户主申请, 已签授权承诺书")
        )
        await act(
            "SignStep",
            sign("verification", VILLAGE_CADRE, co_signers=[VILLAGE_SECRETARY], comment="入户核实"),
        )
        await act(
            "PublishNotice", approval_pb2.CaseActionRequest(case_id=case_id, actor=VILLAGE_CADRE)
        )
        # the public notice runs its days: approval comes back a week later
        suite.stop_service("approval")
        week_later = float(suite.env["FANGPIN_CLOCK_OFFSET_SECONDS"]) + 7 * DAY
        suite.service_env_overrides["approval"] = {"FANGPIN_CLOCK_OFFSET_SECONDS": str(week_later)}
        suite.start_service("approval")
        await suite.wait_healthy(services=("approval",))
        await act("SignStep", sign("village_appraisal", VILLAGE_CADRE, comment="民主评议通过"))
        await act("SignStep", sign("town_review", TOWN_REVIEWER))
        final = await act("SignStep", sign("county_approval", COUNTY_BUREAU))
        assert final.status == "approved"

        decision = CloudEvent.model_validate_json((await decided.next_msg(timeout=30)).data)
        assert decision.data["outcome"] == "approved"
        assert decision.data["household_id"] == household["household_id"]
        assert decision.correlationid  # the story keeps one correlation id

        measure = CloudEvent.model_validate_json((await dispatched.next_msg(timeout=30)).data)
        assert measure.data["household_id"] == household["household_id"]
        assert measure.data["dept"]

        async with channel(suite.address("assistance")) as ch:
            plan = await assistance_pb2_grpc.AssistanceServiceStub(ch).GetPlan(
                assistance_pb2.GetPlanRequest(household_id=str(household["household_id"]))
            )
        assert plan.measures
        assert any(m.developmental for m in plan.measures)  # a household with labor capacity

        # each service's own store holds its part of the story
        assert store_count(suite, "intake", "clues") == 1
        assert store_count(suite, "screening", "decisions") >= 1
        assert store_count(suite, "approval", "cases") == 1
        assert store_count(suite, "assistance", "plans") == 1
        await wait_until(
            lambda: store_count(suite, "notify", "notices") >= 5, timeout=30
        )  # clue, case opened, steps, decision, plan, measure
        for service in ("intake", "screening", "approval", "assistance", "notify"):
            await wait_until(
                lambda s=service: store_count(suite, s, "outbox", "published_at IS NULL") == 0,
                timeout=20,
            )
        rows = store_rows(suite, "approval", "SELECT status FROM register")
        assert rows and rows[0][0] == "monitored"
        await nc.close()
