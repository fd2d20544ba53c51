"""Approval's use cases against a real store (SQLite and PostgreSQL): the procedure end to end."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from approval_integration import (
    VILLAGE,
    Clock,
    actors,
    committed,
    decision,
    household,
    ledger_records,
)

from fangpin_approval.adapters.orm import CaseRow, RegisterRow
from fangpin_approval.adapters.repository import CaseRepository, RegisterRepository
from fangpin_approval.domain.case import Case
from fangpin_approval.domain.codes import EliminationMode
from fangpin_approval.domain.errors import Conflict, InvalidTransition, PermissionDenied
from fangpin_approval.domain.procedure import Step
from fangpin_approval.service_layer import handlers
from fangpin_approval.service_layer.handlers import ApprovalContext
from fangpin_contracts.cloudevents import CloudEvent
from fangpin_kit.bus import PermanentError
from fangpin_kit.db import Database

A = actors()


def names(emitted: list[tuple[str, CloudEvent]]) -> list[str]:
    return [subject.rsplit(".", 1)[1] for subject, _ in emitted]


async def open_case(db: Database, ctx: ApprovalContext, **kw: Any) -> Case:
    case, _ = await committed(
        db, lambda uow: handlers.on_screening_decided(uow, ctx, decision(**kw))
    )
    assert case is not None
    return case


async def sign(db: Database, ctx: ApprovalContext, case_id: str, who: str, **kw: Any) -> Any:
    return await committed(
        db,
        lambda uow: handlers.sign_step(uow, ctx, case_id=case_id, step=None, actor=A[who], **kw),
    )


async def act(
    db: Database, ctx: ApprovalContext, action: str, case_id: str, who: str, text: str = ""
) -> Any:
    return await committed(
        db,
        lambda uow: handlers.take_action(
            uow, ctx, action, case_id=case_id, actor=A[who], text=text
        ),
    )


async def through_notice(db: Database, ctx: ApprovalContext, clock: Clock, case_id: str) -> None:
    """application, verification by two cadres, notice published, 5 notice days pass."""
    await sign(db, ctx, case_id, "household", comment="申请+授权承诺")
    clock.advance(days=1)
    await sign(db, ctx, case_id, "village", co_signers=[A["town"]], comment="入户核实")
    await act(db, ctx, "publish_notice", case_id, "village")
    clock.advance(days=5)


async def approve(
    db: Database, ctx: ApprovalContext, clock: Clock, case_id: str
) -> list[tuple[str, CloudEvent]]:
    await through_notice(db, ctx, clock, case_id)
    await sign(db, ctx, case_id, "village", comment="评议通过")
    clock.advance(hours=2)
    await sign(db, ctx, case_id, "town", comment="审核通过")
    clock.advance(hours=2)
    _, emitted = await sign(db, ctx, case_id, "county", comment="批准")
    return emitted


async def register_row(db: Database, household_id: str = "H00001") -> RegisterRow | None:
    async with db.sessions() as session:
        return await RegisterRepository(session).row(household_id)


async def test_in_scope_decision_opens_an_identification_case_and_announces_it(
    db: Database, ctx: ApprovalContext
) -> None:
    case, emitted = await committed(
        db, lambda uow: handlers.on_screening_decided(uow, ctx, decision())
    )
    assert case is not None and case.step is Step.APPLICATION
    assert names(emitted) == ["opened"]
    opened = emitted[0][1]
    assert opened.id == f"{case.id}.opened"
    assert opened.subject == "H00001"
    assert opened.data["due"] == {"verification": "2024-03-11", "approval": "2024-03-19"}
    assert opened.data["region"] == {
        "county": "652827",
        "town": "652827100",
        "village": VILLAGE,
    }
    assert (opened.data["category"], opened.data["risk_types"]) == (
        "marginal",
        ["illness", "education"],
    )
    async with db.sessions() as session:
        stored = await CaseRepository(session).get(case.id)
    assert stored is not None
    assert stored.params.ruleset == "cn@2021-01-01"
    assert stored.clue_on == dt.date(2024, 3, 4)
    assert [a.action.value for a in stored.history] == ["open", "record_screening"]
    records = await ledger_records(db)
    assert [r["action"] for r in records] == ["open", "record_screening"]


async def test_the_same_decision_delivered_twice_opens_one_case_and_a_newer_one_is_recorded_on_it(
    db: Database, ctx: ApprovalContext
) -> None:
    first = await open_case(db, ctx)
    with pytest.raises(sa.exc.IntegrityError):
        # a replay that slipped past the inbox: the derived case id refuses a second case
        async with db.uow() as uow:
            await CaseRepository(uow.session).add(first, household=None, source="replay")
    again, emitted = await committed(
        db,
        lambda uow: handlers.on_screening_decided(
            uow, ctx, decision(decision_id="D-2", risk_types=("housing",), category="marginal")
        ),
    )
    assert again is not None and again.id == first.id
    assert emitted == []
    assert again.risk_types[0].value == "housing"
    async with db.sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(CaseRow)) == 1


async def test_a_decision_whose_case_was_already_decided_is_not_taken_again(
    db: Database, ctx: ApprovalContext
) -> None:
    case = await open_case(db, ctx)
    await act(db, ctx, "withdraw", case.id, "household", "已外出务工")
    republished = decision()
    republished.id = "D-1.decided.again"  # the same decision under a new event id
    again, emitted = await committed(
        db, lambda uow: handlers.on_screening_decided(uow, ctx, republished)
    )
    assert (again, emitted) == (None, [])


async def test_a_decision_with_an_unknown_code_is_dead_lettered_naming_the_field(
    db: Database, ctx: ApprovalContext
) -> None:
    async with db.uow() as uow:
        with pytest.raises(
            PermanentError, match=r"^decision\.risk_types: 'poverty' is not a valid"
        ):
            await handlers.on_screening_decided(uow, ctx, decision(risk_types=("poverty",)))
        with pytest.raises(PermanentError, match=r"^decision\.category: 'poor' is not a valid"):
            await handlers.on_screening_decided(uow, ctx, decision(category="poor"))


async def test_out_of_scope_decision_opens_nothing(db: Database, ctx: ApprovalContext) -> None:
    case, emitted = await committed(
        db, lambda uow: handlers.on_screening_decided(uow, ctx, decision(in_scope=False))
    )
    assert (case, emitted) == (None, [])


async def test_decision_of_another_county_is_dead_lettered_naming_the_field(
    db: Database, ctx: ApprovalContext
) -> None:
    async with db.uow() as uow:
        with pytest.raises(PermanentError, match=r"^region\.county: household of county 110101"):
            await handlers.on_screening_decided(
                uow, ctx, decision(county="110101", village="110101001001")
            )


async def test_five_signed_steps_approve_and_register_the_household_monitored(
    db: Database, ctx: ApprovalContext, clock: Clock
) -> None:
    case = await open_case(db, ctx)
    emitted = await approve(db, ctx, clock, case.id)
    assert names(emitted) == ["decided"]
    decided = emitted[0][1].data
    assert (decided["outcome"], decided["kind"], decided["status"]) == (
        "approved",
        "identification",
        "approved",
    )
    assert decided["household"] == household()
    assert (decided["category"], decided["risk_types"]) == ("marginal", ["illness", "education"])
    assert decided["due"]["plan"] == "2024-03-20"
    assert decided["actor"]["level"] == "county"
    row = await register_row(db)
    assert row is not None and row.status == "monitored"
    assert row.identified_on == dt.date(2024, 3, 10)
    assert row.household == household()
    records = await ledger_records(db)
    assert records[-1]["register"][0]["to_status"] == "monitored"


async def test_every_signed_step_is_announced_as_advanced_with_its_actor(
    db: Database, ctx: ApprovalContext, clock: Clock
) -> None:
    case = await open_case(db, ctx)
    _, emitted = await sign(db, ctx, case.id, "household")
    [(subject, advanced)] = emitted
    assert subject == "fp.652827.case.advanced"
    assert (advanced.data["action"], advanced.data["from_step"], advanced.data["step"]) == (
        "sign",
        "application",
        "verification",
    )
    assert advanced.data["actor"]["id"] == "H00001"
    clock.advance(days=1)
    await sign(db, ctx, case.id, "village", co_signers=[A["town"]])
    _, emitted = await act(db, ctx, "publish_notice", case.id, "village")
    notice = emitted[0][1].data
    assert (notice["action"], notice["due"]["notice_last_day"]) == ("publish_notice", "2024-03-09")
    assert notice["due"]["notice_start"] == "2024-03-05"


async def test_elimination_follows_the_same_steps_and_marks_the_household_eliminated(
    db: Database, ctx: ApprovalContext, clock: Clock
) -> None:
    case = await open_case(db, ctx)
    await approve(db, ctx, clock, case.id)
    clock.advance(days=200)
    elimination, emitted = await committed(
        db,
        lambda uow: handlers.nominate_elimination(
            uow,
            ctx,
            household_id="H00001",
            actor=A["village"],
            mode=EliminationMode.ASSISTED,
            measures=["M-industry-1"],
            comment="收入持续稳定半年以上",
        ),
    )
    assert names(emitted) == ["opened", "advanced"]
    assert elimination.step is Step.VERIFICATION
    clock.advance(days=1)
    await sign(db, ctx, elimination.id, "village", co_signers=[A["village2"]])
    await act(db, ctx, "publish_notice", elimination.id, "village")
    clock.advance(days=5)
    await sign(db, ctx, elimination.id, "village")
    await sign(db, ctx, elimination.id, "town")
    _, emitted = await sign(db, ctx, elimination.id, "county")
    decided = emitted[0][1].data
    assert (decided["kind"], decided["outcome"], decided["elimination_mode"]) == (
        "elimination",
        "approved",
        "assisted",
    )
    row = await register_row(db)
    assert row is not None and (row.status, row.elimination_mode) == ("eliminated", "assisted")


async def test_two_concurrent_signers_one_wins_the_other_gets_a_conflict_and_one_entry_is_written(
    db: Database, ctx: ApprovalContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = await open_case(db, ctx)
    await sign(db, ctx, case.id, "household")
    before = len(await ledger_records(db))
    # both signers load the case before either saves it
    barrier = asyncio.Barrier(2)
    load = CaseRepository.get

    async def load_then_wait(self: CaseRepository, case_id: str) -> Case | None:
        loaded = await load(self, case_id)
        await barrier.wait()
        return loaded

    monkeypatch.setattr(CaseRepository, "get", load_then_wait)
    results = await asyncio.gather(
        sign(db, ctx, case.id, "village", co_signers=[A["town"]], expected_version=3),
        sign(db, ctx, case.id, "village2", co_signers=[A["town"]], expected_version=3),
        return_exceptions=True,
    )
    monkeypatch.setattr(CaseRepository, "get", load)
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(conflicts) == 1, results
    assert "reload it and try again" in str(conflicts[0])
    signed = [r for r in results if not isinstance(r, BaseException)]
    assert len(signed) == 1
    records = await ledger_records(db)
    assert len(records) == before + 1
    assert records[-1]["action"] == "sign" and records[-1]["step"] == "verification"
    async with db.sessions() as session:
        stored = await CaseRepository(session).get(case.id)
    assert stored is not None and stored.version == 4 and stored.step is Step.VILLAGE_APPRAISAL
    assert [a.action.value for a in stored.history].count("sign") == 2


async def test_a_stale_expected_version_is_a_conflict_and_changes_nothing(
    db: Database, ctx: ApprovalContext
) -> None:
    case = await open_case(db, ctx)
    with pytest.raises(Conflict, match=r"is at version 2, not 1"):
        await sign(db, ctx, case.id, "household", expected_version=1)
    assert len(await ledger_records(db)) == 2


async def test_objection_during_the_notice_sends_the_case_back_to_verification(
    db: Database, ctx: ApprovalContext, clock: Clock
) -> None:
    case = await open_case(db, ctx)
    await sign(db, ctx, case.id, "household")
    clock.advance(days=1)
    await sign(db, ctx, case.id, "village", co_signers=[A["town"]])
    await act(db, ctx, "publish_notice", case.id, "village")
    clock.advance(days=2)
    objected, emitted = await act(db, ctx, "object", case.id, "village", "邻居反映其家中有轿车")
    assert objected.step is Step.VERIFICATION
    advanced = emitted[0][1].data
    assert (advanced["action"], advanced["from_step"], advanced["step"]) == (
        "object",
        "village_appraisal",
        "verification",
    )
    assert "notice_last_day" not in advanced["due"]
    assert (await ledger_records(db))[-1]["comment"] == "邻居反映其家中有轿车"


async def test_town_returns_then_county_rejects_with_the_reason(
    db: Database, ctx: ApprovalContext, clock: Clock
) -> None:
    case = await open_case(db, ctx)
    await through_notice(db, ctx, clock, case.id)
    await sign(db, ctx, case.id, "village")
    returned, _ = await act(db, ctx, "return", case.id, "town", "评议记录缺签字")
    assert returned.step is Step.VILLAGE_APPRAISAL
    await sign(db, ctx, case.id, "village")
    await sign(db, ctx, case.id, "town")
    _, emitted = await act(db, ctx, "reject", case.id, "county", "部门比对发现有工商注册")
    decided = emitted[0][1].data
    assert (decided["outcome"], decided["reason"], decided["green_channel"]) == (
        "rejected",
        "部门比对发现有工商注册",
        False,
    )
    assert await register_row(db) is None


async def test_actions_outside_the_actors_level_or_region_are_refused_with_the_reason(
    db: Database, ctx: ApprovalContext
) -> None:
    case = await open_case(db, ctx)
    with pytest.raises(PermissionDenied, match=r"town 赵镇长 \(T-01\) may not sign application"):
        await sign(db, ctx, case.id, "town")
    with pytest.raises(PermissionDenied, match="of region 652827100202 may not"):
        await sign(db, ctx, case.id, "other_village")
    assert len(await ledger_records(db)) == 2


async def test_excluded_household_passes_the_appraisal_only_with_a_reason_kept_in_the_ledger(
    db: Database, ctx: ApprovalContext, clock: Clock
) -> None:
    case = await open_case(db, ctx, excluded_by=("vehicle_machinery",))
    assert [e.value for e in case.exclusions] == ["vehicle_machinery"]
    await through_notice(db, ctx, clock, case.id)
    with pytest.raises(InvalidTransition, match="special-case reason"):
        await sign(db, ctx, case.id, "village")
    reason = "车辆系残疾人代步车,经村民代表会议评议属特殊情况"
    signed, _ = await sign(db, ctx, case.id, "village", special_reason=reason)
    assert signed.step is Step.TOWN_REVIEW
    override, appraisal = (await ledger_records(db))[-2:]
    assert (override["action"], override["reason"]) == ("record_special_reason", reason)
    assert override["details"]["exclusions"] == ["vehicle_machinery"]
    assert (appraisal["action"], appraisal["step"]) == ("sign", "village_appraisal")
