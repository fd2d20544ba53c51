"""Approval over gRPC: every action and query, and the status code of each kind of refusal."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from approval_integration import VILLAGE, Clock, committed, decision, tamper

from fangpin.v1 import approval_pb2, common_pb2
from fangpin.v1.approval_pb2_grpc import ApprovalServiceStub
from fangpin_approval.service_layer import handlers
from fangpin_approval.service_layer.handlers import ApprovalContext
from fangpin_kit.db import Database

pb = approval_pb2


def actor(who: str) -> pb.Actor:
    return {
        "household": pb.Actor(
            id="H00001", name="张三丰", role="household_head", level="household", region=VILLAGE
        ),
        "village": pb.Actor(
            id="V-01", name="李支书", role="village_secretary", level="village", region=VILLAGE
        ),
        "village2": pb.Actor(
            id="V-02", name="周文书", role="village_clerk", level="village", region=VILLAGE
        ),
        "town": pb.Actor(
            id="T-01", name="赵镇长", role="town_officer", level="town", region=VILLAGE[:9]
        ),
        "county": pb.Actor(
            id="C-01", name="钱局长", role="county_bureau", level="county", region=VILLAGE[:6]
        ),
    }[who]


async def open_case(db: Database, ctx: ApprovalContext, **kw: Any) -> str:
    case, _ = await committed(
        db, lambda uow: handlers.on_screening_decided(uow, ctx, decision(**kw))
    )
    return str(case.id)


async def refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value


async def walk_to_approval(stub: ApprovalServiceStub, clock: Clock, case_id: str) -> pb.Case:
    await stub.SignStep(
        pb.SignStepRequest(case_id=case_id, step="application", actor=actor("household"))
    )
    clock.advance(days=1)
    await stub.SignStep(
        pb.SignStepRequest(
            case_id=case_id,
            step="verification",
            actor=actor("village"),
            co_signers=[actor("town")],
            comment="入户核实",
            attachments=["att://visit-1"],
        )
    )
    await stub.PublishNotice(pb.CaseActionRequest(case_id=case_id, actor=actor("village")))
    clock.advance(days=5)
    await stub.SignStep(
        pb.SignStepRequest(case_id=case_id, step="village_appraisal", actor=actor("village"))
    )
    await stub.SignStep(
        pb.SignStepRequest(case_id=case_id, step="town_review", actor=actor("town"))
    )
    return await stub.SignStep(
        pb.SignStepRequest(case_id=case_id, step="county_approval", actor=actor("county"))
    )


async def test_operators_walk_a_case_through_the_five_steps_and_see_its_timeline(
    db: Database, ctx: ApprovalContext, clock: Clock, stub: ApprovalServiceStub
) -> None:
    case_id = await open_case(db, ctx)
    queue = await stub.ListCases(pb.ListCasesRequest(region=VILLAGE, status="open"))
    assert [c.case_id for c in queue.cases] == [case_id]
    assert queue.cases[0].timeline == []  # queues carry no timelines
    approved = await walk_to_approval(stub, clock, case_id)
    assert (approved.status, approved.category) == ("approved", "marginal")
    assert approved.due["system_entry"] == "2024-03-20"
    shown = await stub.GetCase(pb.GetCaseRequest(case_id=case_id))
    assert [e.action for e in shown.timeline] == [
        "open",
        "record_screening",
        "sign",
        "sign",
        "publish_notice",
        "sign",
        "sign",
        "sign",
    ]
    verification = shown.timeline[3]
    assert verification.actor.id == "V-01"
    assert [c.id for c in verification.co_signers] == ["T-01"]
    assert list(verification.attachments) == ["att://visit-1"]
    stats = await stub.GetStats(common_pb2.StatsRequest())
    assert stats.counts["cases_open"] == 0 and stats.counts["monitored"] == 1
    assert stats.counts["ledger_entries"] == 8
    entry = await stub.GetRegisterEntry(pb.GetRegisterEntryRequest(household_id="H00001"))
    assert (entry.status, entry.identified_on) == ("monitored", "2024-03-10")
    assert [h.to_status for h in entry.history] == ["monitored"]
    listed = await stub.ListRegister(pb.ListRegisterRequest(region=VILLAGE[:9]))
    assert [e.household_id for e in listed.entries] == ["H00001"]


async def test_elimination_nomination_and_system_entry_over_grpc(
    db: Database, ctx: ApprovalContext, clock: Clock, stub: ApprovalServiceStub
) -> None:
    case_id = await open_case(db, ctx)
    await walk_to_approval(stub, clock, case_id)
    entered = await stub.RecordSystemEntry(
        pb.CaseActionRequest(case_id=case_id, actor=actor("county"), comment="已录入")
    )
    assert entered.system_entry_on == "2024-03-10"
    clock.advance(days=190)
    nominated = await stub.NominateElimination(
        pb.NominateEliminationRequest(
            household_id="H00001", actor=actor("village"), mode="natural", comment="收入稳定"
        )
    )
    assert (nominated.kind, nominated.step, nominated.elimination_mode) == (
        "elimination",
        "verification",
        "natural",
    )
    err = await refused(
        stub.NominateElimination(
            pb.NominateEliminationRequest(
                household_id="H00001", actor=actor("village"), mode="natural"
            )
        )
    )
    assert err.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert f"already has the open elimination case {nominated.case_id}" in (err.details() or "")


async def test_a_refused_action_is_permission_denied_with_the_reason(
    db: Database, ctx: ApprovalContext, stub: ApprovalServiceStub
) -> None:
    case_id = await open_case(db, ctx)
    err = await refused(stub.SignStep(pb.SignStepRequest(case_id=case_id, actor=actor("county"))))
    assert err.code() is grpc.StatusCode.PERMISSION_DENIED
    assert err.details() == (
        "county 钱局长 (C-01) may not sign application: only household, village may"
    )


async def test_a_stale_version_is_aborted_and_the_case_is_unchanged(
    db: Database, ctx: ApprovalContext, stub: ApprovalServiceStub
) -> None:
    case_id = await open_case(db, ctx)
    err = await refused(
        stub.SignStep(
            pb.SignStepRequest(case_id=case_id, actor=actor("household"), expected_version=1)
        )
    )
    assert err.code() is grpc.StatusCode.ABORTED
    assert "is at version 2, not 1: it was changed by someone else" in (err.details() or "")
    case = await stub.GetCase(pb.GetCaseRequest(case_id=case_id))
    assert (case.step, case.version) == ("application", 2)


async def test_an_action_the_state_does_not_allow_is_failed_precondition(
    db: Database, ctx: ApprovalContext, stub: ApprovalServiceStub
) -> None:
    case_id = await open_case(db, ctx)
    err = await refused(
        stub.SignStep(
            pb.SignStepRequest(case_id=case_id, step="verification", actor=actor("village"))
        )
    )
    assert err.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert err.details() == f"case {case_id} is at application, not verification"
    err = await refused(
        stub.Object(pb.CaseActionRequest(case_id=case_id, actor=actor("village"), comment="x"))
    )
    assert err.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "objections are taken during the notice" in (err.details() or "")


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (
            pb.SignStepRequest(case_id="X", actor=pb.Actor(id="V", name="n", level="mayor")),
            "actor.level",
        ),
        (
            pb.SignStepRequest(
                case_id="X", actor=pb.Actor(id="V", name="n", level="village", region="6528")
            ),
            "actor.region",
        ),
        (pb.SignStepRequest(case_id="X", actor=pb.Actor(name="n")), "actor.id"),
        (pb.SignStepRequest(case_id="X", step="approval", actor=actor("village")), "step"),
        (
            pb.SignStepRequest(
                case_id="X",
                actor=actor("village"),
                co_signers=[pb.Actor(id="T", name="t", level="town", region="65")],
            ),
            "co_signers[0].region",
        ),
        (pb.SignStepRequest(actor=actor("village")), "case_id"),
    ],
)
async def test_a_bad_field_is_invalid_argument_naming_it(
    stub: ApprovalServiceStub, request_: pb.SignStepRequest, field: str
) -> None:
    err = await refused(stub.SignStep(request_))
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert (err.details() or "").startswith(f"{field}: ")


async def test_bad_query_fields_are_invalid_argument_naming_them(
    stub: ApprovalServiceStub,
) -> None:
    for request_, field in [
        (pb.ListCasesRequest(region="65282710"), "region"),
        (pb.ListCasesRequest(status="pending"), "status"),
        (pb.ListCasesRequest(limit=-1), "limit"),
    ]:
        err = await refused(stub.ListCases(request_))
        assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert (err.details() or "").startswith(f"{field}: ")
    err = await refused(
        stub.NominateElimination(
            pb.NominateEliminationRequest(household_id="H1", actor=actor("village"), mode="x")
        )
    )
    assert (err.details() or "").startswith("mode: one of assisted, natural")
    err = await refused(stub.ExportNotice(pb.ExportNoticeRequest(village="6528271")))
    assert (err.details() or "").startswith("village: ")


async def test_unknown_case_or_household_is_not_found(stub: ApprovalServiceStub) -> None:
    err = await refused(stub.GetCase(pb.GetCaseRequest(case_id="I404")))
    assert (err.code(), err.details()) == (grpc.StatusCode.NOT_FOUND, "case I404: not found")
    err = await refused(stub.GetRegisterEntry(pb.GetRegisterEntryRequest(household_id="H404")))
    assert err.code() is grpc.StatusCode.NOT_FOUND


async def test_green_channel_return_reject_and_withdraw_over_grpc(
    db: Database, ctx: ApprovalContext, stub: ApprovalServiceStub
) -> None:
    case_id = await open_case(db, ctx)
    await stub.OpenGreenChannel(
        pb.CaseActionRequest(case_id=case_id, actor=actor("village"), comment="房屋损毁")
    )
    opened = await stub.OpenGreenChannel(
        pb.CaseActionRequest(case_id=case_id, actor=actor("town"), comment="属实")
    )
    assert (opened.green_channel, opened.green_channel_state) == (True, "open")
    assert opened.due["green_channel"] == "2024-04-04"
    err = await refused(
        stub.RejectCase(pb.CaseActionRequest(case_id=case_id, actor=actor("village")))
    )
    assert (err.code(), err.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "comment: the reason for the rejection is required",
    )
    withdrawn = await stub.WithdrawCase(
        pb.CaseActionRequest(case_id=case_id, actor=actor("household"), comment="已外出务工")
    )
    assert (withdrawn.status, withdrawn.green_channel_state) == ("withdrawn", "exited")
    entry = await stub.GetRegisterEntry(pb.GetRegisterEntryRequest(household_id="H00001"))
    assert entry.status == "removed"


async def test_the_village_notice_text_is_exported(
    db: Database, ctx: ApprovalContext, clock: Clock, stub: ApprovalServiceStub
) -> None:
    case_id = await open_case(db, ctx)
    await stub.SignStep(pb.SignStepRequest(case_id=case_id, actor=actor("household")))
    await stub.SignStep(
        pb.SignStepRequest(case_id=case_id, actor=actor("village"), co_signers=[actor("town")])
    )
    await stub.PublishNotice(pb.CaseActionRequest(case_id=case_id, actor=actor("village")))
    notice = await stub.ExportNotice(pb.ExportNoticeRequest(village=VILLAGE, village_name="幸福村"))
    assert (notice.published_on, notice.last_day, list(notice.case_ids)) == (
        "2024-03-04",
        "2024-03-08",
        [case_id],
    )
    assert notice.text.startswith("幸福村防止返贫监测对象公示")
    assert "张**" in notice.text


async def test_verify_audit_names_the_edited_and_the_deleted_entry(
    db: Database, ctx: ApprovalContext, clock: Clock, stub: ApprovalServiceStub
) -> None:
    case_id = await open_case(db, ctx)
    await walk_to_approval(stub, clock, case_id)
    intact = await stub.VerifyAudit(pb.VerifyAuditRequest())
    assert (intact.ok, intact.checked) == (True, 8)
    await tamper(
        db, "UPDATE audit_ledger SET record = replace(record, '入户核实', '未核实') WHERE seq = 4"
    )
    edited = await stub.VerifyAudit(pb.VerifyAuditRequest())
    assert (edited.ok, edited.problem, edited.seq) == (False, "edited", 4)
    assert "entry 4 does not match its hash" in edited.message
    await tamper(db, "DELETE FROM audit_ledger WHERE seq = 2")
    deleted = await stub.VerifyAudit(pb.VerifyAuditRequest())
    assert (deleted.problem, deleted.seq) == ("deleted", 2)
