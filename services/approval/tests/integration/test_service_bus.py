"""Approval as a running service on the bus: screening decision to monitored, then eliminated."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import nats
from approval_integration import START, decision

from fangpin.v1 import approval_pb2 as pb
from fangpin.v1 import approval_pb2_grpc, common_pb2
from fangpin_approval.bootstrap import SPEC
from fangpin_contracts.cloudevents import CloudEvent
from fangpin_contracts.subjects import subject
from fangpin_kit.bus import headers_for
from fangpin_kit.clock import china_date
from fangpin_kit.grpcclient import channel
from fangpin_kit.natsserver import EmbeddedNats
from fangpin_kit.testing import running_service


class CaseEvents:
    """Every `case.*` event of the county, as a consumer downstream would see them."""

    def __init__(self, sub: Any) -> None:
        self.sub = sub
        self.seen: list[CloudEvent] = []

    async def next(self, name: str, timeout: float = 15) -> CloudEvent:
        while True:
            msg = await self.sub.next_msg(timeout=timeout)
            await msg.ack()
            event = CloudEvent.model_validate_json(msg.data)
            assert msg.headers["Nats-Msg-Id"] == event.id
            self.seen.append(event)
            if event.type == f"cn.fangpin.case.{name}.v1":
                return event


def actors(village: str) -> dict[str, pb.Actor]:
    return {
        "household": pb.Actor(
            id="H00001", name="张三丰", role="household_head", level="household", region=village
        ),
        "village": pb.Actor(
            id="V-01", name="李支书", role="village_secretary", level="village", region=village
        ),
        "village2": pb.Actor(
            id="V-02", name="周文书", role="village_clerk", level="village", region=village
        ),
        "town": pb.Actor(
            id="T-01", name="赵镇长", role="town_officer", level="town", region=village[:9]
        ),
        "county": pb.Actor(
            id="C-01", name="钱局长", role="county_bureau", level="county", region=village[:6]
        ),
    }


async def test_a_screening_decision_becomes_a_monitored_household_and_later_an_eliminated_one(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    village = f"{county}100201"
    who = actors(village)
    settings: dict[str, Any] = {
        "county": county,
        "nats_url": nats_server.url,
        "db_url": f"sqlite+aiosqlite:///{tmp_path / 'approval.db'}",
        "outbox_poll_seconds": 0.1,
    }
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    try:
        # day 0: the decision arrives; application, verification, notice published
        async with running_service(SPEC, start=START, **settings) as app:
            events = CaseEvents(
                await js.subscribe(subject(county, "case", "*"), durable="downstream")
            )
            today = china_date(START).isoformat()
            decided = decision(county=county, village=village, as_of=today)
            await js.publish(
                subject(county, "screening", "decided"),
                decided.model_dump_json().encode(),
                headers=headers_for(decided),
            )
            opened = await events.next("opened")
            case_id = opened.data["case_id"]
            assert opened.correlationid == decided.id  # the decision's story continues
            assert (opened.data["household_id"], opened.data["step"]) == ("H00001", "application")
            async with channel(f"127.0.0.1:{app.grpc.port}") as ch:  # type: ignore[union-attr]
                stub = approval_pb2_grpc.ApprovalServiceStub(ch)
                await stub.SignStep(
                    pb.SignStepRequest(case_id=case_id, step="application", actor=who["household"])
                )
                await stub.SignStep(
                    pb.SignStepRequest(
                        case_id=case_id,
                        step="verification",
                        actor=who["village"],
                        co_signers=[who["town"]],
                    )
                )
                noticed = await stub.PublishNotice(
                    pb.CaseActionRequest(case_id=case_id, actor=who["village"])
                )
            assert (
                noticed.due["notice_last_day"]
                == (dt.date.fromisoformat(today) + dt.timedelta(days=4)).isoformat()
            )
            assert [(await events.next("advanced")).data["action"] for _ in range(3)] == [
                "sign",
                "sign",
                "publish_notice",
            ]

        # six days later the notice has run: appraisal, town review, county approval
        async with (
            running_service(SPEC, start=START + dt.timedelta(days=6), **settings) as app,
            channel(f"127.0.0.1:{app.grpc.port}") as ch,  # type: ignore[union-attr]
        ):
            stub = approval_pb2_grpc.ApprovalServiceStub(ch)
            for step, signer in (
                ("village_appraisal", "village"),
                ("town_review", "town"),
                ("county_approval", "county"),
            ):
                await stub.SignStep(
                    pb.SignStepRequest(case_id=case_id, step=step, actor=who[signer])
                )
            decided_event = await events.next("decided")
            assert (decided_event.data["outcome"], decided_event.data["case_id"]) == (
                "approved",
                case_id,
            )
            assert decided_event.data["household"]["household_id"] == "H00001"
            assert decided_event.data["category"] == "marginal"
            entry = await stub.GetRegisterEntry(pb.GetRegisterEntryRequest(household_id="H00001"))
            assert entry.status == "monitored"
            stats = await stub.GetStats(common_pb2.StatsRequest())
            assert (stats.counts["monitored"], stats.counts["cases_open"]) == (1, 0)

            # the risk is gone: the village nominates the household for elimination
            nominated = await stub.NominateElimination(
                pb.NominateEliminationRequest(
                    household_id="H00001",
                    actor=who["village"],
                    mode="assisted",
                    measures=["M-industry-1"],
                    comment="收入持续稳定",
                )
            )
            elimination_id = nominated.case_id
            await stub.SignStep(
                pb.SignStepRequest(
                    case_id=elimination_id,
                    step="verification",
                    actor=who["village"],
                    co_signers=[who["village2"]],
                )
            )
            await stub.PublishNotice(
                pb.CaseActionRequest(case_id=elimination_id, actor=who["village"])
            )

        # another six days: the elimination notice has run
        async with (
            running_service(SPEC, start=START + dt.timedelta(days=12), **settings) as app,
            channel(f"127.0.0.1:{app.grpc.port}") as ch,  # type: ignore[union-attr]
        ):
            stub = approval_pb2_grpc.ApprovalServiceStub(ch)
            for step, signer in (
                ("village_appraisal", "village"),
                ("town_review", "town"),
                ("county_approval", "county"),
            ):
                await stub.SignStep(
                    pb.SignStepRequest(case_id=elimination_id, step=step, actor=who[signer])
                )
            eliminated = await events.next("decided")
            assert (
                eliminated.data["kind"],
                eliminated.data["outcome"],
                eliminated.data["elimination_mode"],
            ) == ("elimination", "approved", "assisted")
            entry = await stub.GetRegisterEntry(pb.GetRegisterEntryRequest(household_id="H00001"))
            assert entry.status == "eliminated"
            assert [h.to_status for h in entry.history] == ["monitored", "eliminated"]
            audit = await stub.VerifyAudit(pb.VerifyAuditRequest())
            assert audit.ok and audit.checked == len(
                (await stub.GetCase(pb.GetCaseRequest(case_id=case_id))).timeline
            ) + len((await stub.GetCase(pb.GetCaseRequest(case_id=elimination_id))).timeline)
        assert not [e for e in events.seen if e.type == "cn.fangpin.case.overdue.v1"]
    finally:
        await nc.close()
