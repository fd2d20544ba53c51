"""Green channel, time limits, the register's statuses and the village notice, in a real store."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from approval_integration import (
    VILLAGE,
    Clock,
    actors,
    committed,
    decision,
    household,
    ledger_records,
    outbox,
)

from fangpin_approval.adapters.repository import RegisterRepository
from fangpin_approval.domain.case import Case
from fangpin_approval.domain.codes import EliminationMode
from fangpin_approval.domain.errors import Conflict, InvalidTransition
from fangpin_approval.domain.procedure import Step
from fangpin_approval.service_layer import handlers
from fangpin_approval.service_layer.handlers import ApprovalContext, NotFound
from fangpin_kit.db import Database

A = actors()


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


async def approve(db: Database, ctx: ApprovalContext, clock: Clock, case_id: str) -> None:
    await sign(db, ctx, case_id, "household")
    clock.advance(days=1)
    await sign(db, ctx, case_id, "village", co_signers=[A["town"]])
    await act(db, ctx, "publish_notice", case_id, "village")
    clock.advance(days=5)
    for who in ("village", "town", "county"):
        await sign(db, ctx, case_id, who)


async def eliminate(db: Database, ctx: ApprovalContext, clock: Clock) -> Any:
    case, _ = await committed(
        db,
        lambda uow: handlers.nominate_elimination(
            uow,
            ctx,
            household_id="H00001",
            actor=A["village"],
            mode=EliminationMode.NATURAL,
        ),
    )
    clock.advance(days=1)
    await sign(db, ctx, case.id, "village", co_signers=[A["village2"]])
    await act(db, ctx, "publish_notice", case.id, "village")
    clock.advance(days=5)
    await sign(db, ctx, case.id, "village")
    await sign(db, ctx, case.id, "town")
    _, emitted = await sign(db, ctx, case.id, "county")
    return emitted[0][1].data


async def entry(db: Database, household_id: str = "H00001") -> Any:
    async with db.sessions() as session:
        return await RegisterRepository(session).get(household_id)


async def test_village_and_town_confirmation_opens_the_green_channel_at_once(
    db: Database, ctx: ApprovalContext
) -> None:
    case = await open_case(db, ctx)
    _, emitted = await act(db, ctx, "confirm_urgent", case.id, "village", "房屋因山洪损毁")
    assert emitted == []
    _, emitted = await act(db, ctx, "confirm_urgent", case.id, "town", "镇核实属实")
    [(subject, decided)] = emitted
    assert subject.endswith(".case.decided")
    assert (decided.data["outcome"], decided.data["green_channel"]) == ("green_channel", True)
    assert decided.data["household"] == household()
    assert decided.data["due"]["green_channel"] == "2024-04-04"
    registered = await entry(db)
    assert (registered.status.value, registered.green_channel) == ("monitored", True)


async def test_green_channel_not_completed_in_a_month_expires_once_and_assistance_stops(
    db: Database, ctx: ApprovalContext, clock: Clock
) -> None:
    case = await open_case(db, ctx)
    await act(db, ctx, "confirm_urgent", case.id, "village", "突发")
    await act(db, ctx, "confirm_urgent", case.id, "town", "属实")
    clock.advance(days=31)  # 2024-04-04 is the last day
    assert await handlers.sweep_green_channel(db, ctx) == 0
    clock.advance(days=1)
    assert await handlers.sweep_green_channel(db, ctx) == 1
    assert await handlers.sweep_green_channel(db, ctx) == 0
    [expired] = [e for e in await outbox(db, "decided") if e.data["outcome"] != "green_channel"]
    assert (expired.data["outcome"], expired.data["green_channel"]) == (
        "green_channel_expired",
        True,
    )
    assert "assistance stops" in expired.data["reason"]
    removed = await entry(db)
    assert (removed.status.value, removed.green_channel) == ("removed", False)


async def test_overdue_time_limits_are_reported_once_each_and_escalated(
    db: Database, ctx: ApprovalContext, clock: Clock
) -> None:
    case = await open_case(db, ctx)
    clock.advance(days=7)  # 2024-03-11 was the verification day: nothing late yet
    assert await handlers.sweep_overdue(db, ctx) == 0
    clock.advance(days=1)
    assert await handlers.sweep_overdue(db, ctx) == 1
    assert await handlers.sweep_overdue(db, ctx) == 0
    [late] = await outbox(db, "overdue")
    assert late.id == f"{case.id}.overdue.verification.2024-03-11"
    assert (late.data["deadline"], late.data["escalate_to"], late.data["due"]) == (
        "verification",
        "town",
        {"verification": "2024-03-11"},
    )
    assert "the village is late" in late.data["reason"]
    clock.advance(days=8)  # past the 15-day approval limit (2024-03-19)
    assert await handlers.sweep_overdue(db, ctx) == 1
    approval = (await outbox(db, "overdue"))[-1]
    assert (approval.data["deadline"], approval.data["escalate_to"]) == ("approval", "town")
    assert [r["action"] for r in await ledger_records(db)][-2:] == ["mark_overdue"] * 2


async def test_a_cadre_who_loaded_the_case_before_the_sweep_marked_it_reloads_and_signs(
    db: Database, ctx: ApprovalContext, clock: Clock
) -> None:
    case = await open_case(db, ctx)
    seen = case.version
    clock.advance(days=8)
    assert await handlers.sweep_overdue(db, ctx) == 1  # the mark is an action: version moves
    with pytest.raises(Conflict, match=f"is at version {seen + 1}, not {seen}"):
        await sign(db, ctx, case.id, "household", expected_version=seen)
    signed, _ = await sign(db, ctx, case.id, "household", expected_version=seen + 1)
    assert signed.step is Step.VERIFICATION


async def test_eliminated_household_found_in_scope_again_is_rolled_back_and_reidentified(
    db: Database, ctx: ApprovalContext, clock: Clock
) -> None:
    case = await open_case(db, ctx)
    await approve(db, ctx, clock, case.id)
    clock.advance(days=190)
    assert (await eliminate(db, ctx, clock))["outcome"] == "approved"
    assert (await entry(db)).status.value == "eliminated"
    clock.advance(days=60)
    today = clock().date().isoformat()
    again = await open_case(db, ctx, decision_id="D-9", as_of=today)
    assert again.id != case.id
    rolled = await entry(db)
    assert [h.to_status.value for h in rolled.history] == [
        "monitored",
        "eliminated",
        "rolled_back",
    ]
    assert rolled.history[-1].actor_id == "fangpin/approval"
    register_entry = next(r for r in await ledger_records(db) if r["type"] == "register")
    assert register_entry["to_status"] == "rolled_back"
    await approve(db, ctx, clock, again.id)
    assert (await entry(db)).status.value == "monitored"


async def test_no_labor_household_on_the_safety_net_is_held_instead_of_eliminated(
    db: Database, ctx: ApprovalContext, clock: Clock
) -> None:
    case = await open_case(db, ctx, record=household(safety_net="tekun", labor="none"))
    await approve(db, ctx, clock, case.id)
    clock.advance(days=190)
    decided = await eliminate(db, ctx, clock)
    assert (decided["outcome"], decided["kind"]) == ("held", "elimination")
    assert "(tekun)" in decided["reason"]
    held = await entry(db)
    assert held.status.value == "held" and held.history[-1].actor_id == "C-01"
    with pytest.raises(InvalidTransition, match="is held"):
        await committed(
            db,
            lambda uow: handlers.nominate_elimination(
                uow,
                ctx,
                household_id="H00001",
                actor=A["village"],
                mode=EliminationMode.NATURAL,
            ),
        )


async def test_nominating_a_household_not_in_the_register_is_refused(
    db: Database, ctx: ApprovalContext
) -> None:
    with pytest.raises(InvalidTransition, match="not in the register"):
        await committed(
            db,
            lambda uow: handlers.nominate_elimination(
                uow, ctx, household_id="H00404", actor=A["village"], mode=EliminationMode.NATURAL
            ),
        )


async def test_village_notice_lists_the_published_cases_without_personal_numbers(
    db: Database, ctx: ApprovalContext, clock: Clock
) -> None:
    case = await open_case(db, ctx)
    await sign(db, ctx, case.id, "household")
    clock.advance(days=1)
    await sign(db, ctx, case.id, "village", co_signers=[A["town"]])
    await act(db, ctx, "publish_notice", case.id, "village")
    async with db.sessions() as session:
        notice = await handlers.notice_text(session, ctx, village=VILLAGE, village_name="幸福村")
    assert (notice.published_on, notice.last_day) == (dt.date(2024, 3, 5), dt.date(2024, 3, 9))
    assert notice.case_ids == [case.id]
    assert "幸福村防止返贫监测对象公示" in notice.text
    assert "张**" in notice.text and "张三丰" not in notice.text
    assert "因病" not in notice.text  # health facts are never shown
    for member in household()["members"]:
        assert member["id_number"] not in notice.text
    async with db.sessions() as session:
        with pytest.raises(NotFound, match="no public notice published on 2024-03-01"):
            await handlers.notice_text(
                session, ctx, village=VILLAGE, published_on=dt.date(2024, 3, 1)
            )
