"""Notify's use cases against a real store (SQLite and PostgreSQL): notices, deadlines, sweep."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from fangpin_contracts.cloudevents import CloudEvent
from fangpin_kit.bus import PermanentError
from fangpin_kit.db import Database
from fangpin_notify.adapters.orm import DeadlineRow, NoticeRow
from fangpin_notify.domain.subscriptions import InvalidSubscription
from fangpin_notify.service_layer import handlers
from fangpin_notify.service_layer.context import NotifyContext
from fangpin_notify.service_layer.reminders import sweep
from notify_support import (
    COUNTY,
    ID_NUMBER,
    TOWN,
    VILLAGE,
    MovableClock,
    at,
    case_event,
    clue_event,
    event,
    make_context,
    parameters,
    region,
)

DUE = date(2024, 6, 12)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(at(DUE - timedelta(days=6)))


@pytest.fixture
def ctx(clock: MovableClock) -> NotifyContext:
    return make_context(clock)


async def handle(db: Database, ctx: NotifyContext, use_case, ev: CloudEvent) -> None:  # type: ignore[no-untyped-def]
    async with db.uow() as uow:
        await use_case(uow, ctx, ev)
        await uow.commit()


async def subscribe(db: Database, ctx: NotifyContext, recipient: str, role: str, area: str, **kw):  # type: ignore[no-untyped-def]
    async with db.uow() as uow:
        row = await handlers.subscribe(
            uow, ctx, recipient_id=recipient, role=role, region=area, **kw
        )
        await uow.commit()
    return row


async def notices(db: Database, **where: object) -> list[NoticeRow]:
    async with db.sessions() as s:
        query = sa.select(NoticeRow).order_by(NoticeRow.created_at, NoticeRow.notice_id)
        for name, value in where.items():
            query = query.where(getattr(NoticeRow, name) == value)
        return list((await s.execute(query)).scalars())


async def deadlines(db: Database) -> dict[str, DeadlineRow]:
    async with db.sessions() as s:
        return {r.key: r for r in (await s.execute(sa.select(DeadlineRow))).scalars()}


async def run_sweep(db: Database, ctx: NotifyContext) -> None:
    async with db.uow() as uow:
        await sweep(uow, ctx)
        await uow.commit()


async def staff_the_county(db: Database, ctx: NotifyContext) -> None:
    await subscribe(db, ctx, "cadre-li", "village_cadre", VILLAGE)
    await subscribe(db, ctx, "reviewer-wang", "town_reviewer", TOWN)
    await subscribe(db, ctx, "bureau-zhao", "county_bureau", COUNTY)


# ------------------------------------------------------------------ recipients and notices


async def test_clue_notifies_the_village_cadre_in_chinese_and_opens_a_verification_deadline(
    db: Database, ctx: NotifyContext
) -> None:
    await staff_the_county(db, ctx)
    await handle(db, ctx, handlers.on_clue_accepted, clue_event(due=date(2024, 6, 10)))
    (notice,) = await notices(db)
    assert notice.recipient_id == "cadre-li"
    assert notice.subject == "【待核实】农户H0001有风险线索待入户核实"
    assert "请于2024年6月10日前完成入户核实" in notice.body
    assert "线索来源：部门筛查预警" in notice.body
    assert ID_NUMBER not in notice.body
    assert notice.status == "pending"
    (deadline,) = (await deadlines(db)).values()
    assert deadline.key == "clue:CL-1:2024-06-10"
    assert (deadline.roles, deadline.escalation_roles) == (["village_cadre"], ["town_reviewer"])


async def test_without_a_subscription_the_notice_is_kept_for_the_unassigned_role(
    db: Database, ctx: NotifyContext
) -> None:
    await handle(db, ctx, handlers.on_clue_accepted, clue_event())
    (notice,) = await notices(db)
    assert notice.recipient_id == f"unassigned:village_cadre@{VILLAGE}"
    assert notice.channel == "log"


async def test_the_same_event_handled_twice_records_one_notice(
    db: Database, ctx: NotifyContext
) -> None:
    await staff_the_county(db, ctx)
    accepted = clue_event()
    await handle(db, ctx, handlers.on_clue_accepted, accepted)
    await handle(db, ctx, handlers.on_clue_accepted, accepted)
    assert len(await notices(db)) == 1
    assert len(await deadlines(db)) == 1


@pytest.mark.parametrize(
    ("step", "due_name", "recipient"),
    [
        ("verification", "verification", "cadre-li"),
        ("village_appraisal", "approval", "cadre-li"),
        ("town_review", "approval", "reviewer-wang"),
        ("county_approval", "approval", "bureau-zhao"),
    ],
)
async def test_signature_awaited_goes_to_the_signer_of_the_awaited_step(
    db: Database, ctx: NotifyContext, step: str, due_name: str, recipient: str
) -> None:
    await staff_the_county(db, ctx)
    due = {"verification": DUE - timedelta(days=5), "approval": DUE}
    await handle(db, ctx, handlers.on_case_event, case_event("opened", step=step, due=due))
    (notice,) = [n for n in await notices(db) if n.kind == "signature_awaited"]
    assert notice.recipient_id == recipient
    assert f"case:C-7:{step}:{due[due_name].isoformat()}" in await deadlines(db)


async def test_advancing_the_case_closes_the_deadline_of_the_step_signed(
    db: Database, ctx: NotifyContext
) -> None:
    await staff_the_county(db, ctx)
    due = {"verification": DUE - timedelta(days=5), "approval": DUE}
    await handle(db, ctx, handlers.on_clue_accepted, clue_event())
    await handle(
        db, ctx, handlers.on_case_event, case_event("opened", step="verification", due=due)
    )
    await handle(
        db, ctx, handlers.on_case_event, case_event("advanced", step="town_review", due=due)
    )
    rows = await deadlines(db)
    assert rows["clue:CL-1:2024-06-10"].status == "closed"
    assert rows["case:C-7:verification:2024-06-07"].status == "closed"
    assert rows["case:C-7:verification:2024-06-07"].closed_reason == "case at town_review"
    assert rows["case:C-7:town_review:2024-06-12"].status == "open"


async def test_a_case_returned_to_a_step_is_announced_and_reminded_again(
    db: Database, ctx: NotifyContext
) -> None:
    await staff_the_county(db, ctx)
    due = {"verification": DUE - timedelta(days=5), "approval": DUE}
    await handle(db, ctx, handlers.on_case_event, case_event("opened", step="town_review", due=due))
    up = case_event("advanced", step="county_approval", due=due, action="sign")
    await handle(db, ctx, handlers.on_case_event, up)
    back = case_event(
        "advanced",
        step="town_review",
        due=due,
        action="return",
        from_step="county_approval",
        event_id="C-7.returned",
    )
    await handle(db, ctx, handlers.on_case_event, back)
    rows = await deadlines(db)
    assert rows["case:C-7:town_review:2024-06-12"].status == "open"
    assert rows["case:C-7:county_approval:2024-06-12"].status == "closed"
    asked = sorted(n.recipient_id for n in await notices(db, kind="signature_awaited"))
    assert asked == ["bureau-zhao", "reviewer-wang", "reviewer-wang"]


async def test_decision_closes_the_cases_deadlines_and_reaches_village_and_town(
    db: Database, ctx: NotifyContext
) -> None:
    await staff_the_county(db, ctx)
    due = {"verification": DUE - timedelta(days=5), "approval": DUE}
    await handle(db, ctx, handlers.on_case_event, case_event("opened", step="town_review", due=due))
    decided = case_event(
        "decided",
        step="county_approval",
        status="approved",
        outcome="approved",
        due={**due, "plan": DUE + timedelta(days=10)},
    )
    await handle(db, ctx, handlers.on_case_event, decided)
    assert all(d.status == "closed" for d in (await deadlines(db)).values())
    got = {n.recipient_id: n for n in await notices(db, kind="case_decided")}
    assert set(got) == {"cadre-li", "reviewer-wang"}
    assert got["cadre-li"].subject == "【审批结果】案件C-7审批通过"
    assert "帮扶计划须于2024年6月22日前制定。" in got["cadre-li"].body


async def test_an_older_case_event_arriving_late_does_not_reopen_a_settled_step(
    db: Database, ctx: NotifyContext
) -> None:
    due = {"verification": DUE - timedelta(days=5), "approval": DUE}
    opened = case_event("opened", step="town_review", due=due, when=at(DUE - timedelta(days=6)))
    decided = case_event(
        "decided",
        step="county_approval",
        status="approved",
        outcome="approved",
        due=due,
        when=at(DUE - timedelta(days=3)),
    )
    await handle(db, ctx, handlers.on_case_event, decided)
    await handle(db, ctx, handlers.on_case_event, opened)
    assert await deadlines(db) == {}
    assert {n.kind for n in await notices(db)} == {"case_decided"}


async def test_case_event_without_a_due_date_is_rejected_naming_the_field(
    db: Database, ctx: NotifyContext
) -> None:
    with pytest.raises(PermanentError, match=r"^due: the town_review step of case C-7"):
        await handle(db, ctx, handlers.on_case_event, case_event("opened", due={}))
    assert await notices(db) == []


async def test_unknown_step_is_rejected_naming_the_field(db: Database, ctx: NotifyContext) -> None:
    bad = case_event("opened", step="party_committee", due={"approval": DUE})
    with pytest.raises(PermanentError, match=r"^step: 'party_committee'"):
        await handle(db, ctx, handlers.on_case_event, bad)


# ------------------------------------------------------------------ reminders and escalation


async def test_an_overdue_signature_gets_one_reminder_before_one_on_the_day_one_escalation(
    db: Database, ctx: NotifyContext, clock: MovableClock
) -> None:
    await staff_the_county(db, ctx)
    await handle(db, ctx, handlers.on_case_event, case_event("opened", due={"approval": DUE}))
    day = DUE - timedelta(days=4)
    while day <= DUE + timedelta(days=4):
        for hour in (9, 15):  # two sweeps a day
            clock.set_day(day, hour)
            await run_sweep(db, ctx)
        day += timedelta(days=1)
    reminders = [
        (n.day, n.recipient_id, n.phase, n.subject)
        for n in await notices(db)
        if n.phase is not None
    ]
    assert sorted(reminders) == [
        (
            DUE - timedelta(days=2),
            "reviewer-wang",
            "before",
            "【待签批·还有2天到期】案件C-7“乡镇审核”环节等待您审核签字",
        ),
        (DUE, "reviewer-wang", "due", "【待签批·今日到期】案件C-7“乡镇审核”环节等待您审核签字"),
        (
            DUE + timedelta(days=1),
            "bureau-zhao",
            "escalation",
            "【逾期督办·已逾期1天】案件C-7“乡镇审核”环节超过办理时限",
        ),
        (
            DUE + timedelta(days=1),
            "reviewer-wang",
            "escalation",
            "【逾期督办·已逾期1天】案件C-7“乡镇审核”环节超过办理时限",
        ),
    ]
    (to_bureau,) = await notices(db, recipient_id="bureau-zhao")
    assert "农户：H0001（张**）" in to_bureau.body  # the county sees the name masked


async def test_sweeps_before_the_reminder_hour_send_nothing(
    db: Database, ctx: NotifyContext, clock: MovableClock
) -> None:
    await handle(db, ctx, handlers.on_case_event, case_event("opened", due={"approval": DUE}))
    clock.set_day(DUE, hour=6)
    await run_sweep(db, ctx)
    assert [n for n in await notices(db) if n.phase] == []
    clock.set_day(DUE, hour=8)
    await run_sweep(db, ctx)
    assert [n.phase for n in await notices(db) if n.phase] == ["due"]


async def test_approvals_overdue_event_and_the_sweep_escalate_only_once(
    db: Database, ctx: NotifyContext, clock: MovableClock
) -> None:
    await staff_the_county(db, ctx)
    await handle(db, ctx, handlers.on_case_event, case_event("opened", due={"approval": DUE}))
    clock.set_day(DUE + timedelta(days=1), hour=7)  # approval notices first, before the sweep
    overdue = case_event(  # as approval reports a breach
        "overdue",
        deadline="approval",
        due={"approval": DUE},
        escalate_to="county",
        reason="approval was due 2024-06-12: the town is late, escalated to the county",
        when=clock(),
    )
    await handle(db, ctx, handlers.on_case_event, overdue)
    for hour in (9, 12, 18):
        clock.set_day(DUE + timedelta(days=1), hour)
        await run_sweep(db, ctx)
    escalations = sorted(n.recipient_id for n in await notices(db, phase="escalation"))
    assert escalations == ["bureau-zhao", "reviewer-wang"]
    assert all(n.urgent for n in await notices(db, phase="escalation"))


async def test_late_system_entry_after_approval_escalates_to_the_county_bureau_once(
    db: Database, ctx: NotifyContext, clock: MovableClock
) -> None:
    await staff_the_county(db, ctx)
    entry_due = DUE + timedelta(days=10)
    decided = case_event(
        "decided",
        step="county_approval",
        status="approved",
        outcome="approved",
        due={"approval": DUE, "system_entry": entry_due},
        when=at(DUE),
    )
    await handle(db, ctx, handlers.on_case_event, decided)
    clock.set_day(entry_due + timedelta(days=1))
    overdue = case_event(
        "overdue",
        step="county_approval",
        status="approved",
        deadline="system_entry",
        due={"system_entry": entry_due},
        escalate_to="county",
        when=clock(),
    )
    await handle(db, ctx, handlers.on_case_event, overdue)
    await handle(db, ctx, handlers.on_case_event, overdue)
    (notice,) = await notices(db, phase="escalation")
    assert notice.recipient_id == "bureau-zhao"
    assert notice.subject == "【逾期督办·已逾期1天】案件C-7“录入全国系统”环节超过办理时限"
    (deadline,) = (await deadlines(db)).values()
    assert (deadline.key, deadline.status) == (
        f"case:C-7:system_entry:{entry_due.isoformat()}",
        "closed",
    )


async def test_publishing_the_public_notice_does_not_repeat_the_signature_request(
    db: Database, ctx: NotifyContext
) -> None:
    await staff_the_county(db, ctx)
    due = {"verification": DUE - timedelta(days=5), "approval": DUE}
    appraisal = case_event("advanced", step="village_appraisal", due=due, action="sign")
    await handle(db, ctx, handlers.on_case_event, appraisal)
    published = case_event(
        "advanced",
        step="village_appraisal",
        due={**due, "notice_last_day": DUE - timedelta(days=2)},
        action="publish_notice",
        event_id="C-7.published",
    )
    await handle(db, ctx, handlers.on_case_event, published)
    kinds = sorted((n.kind, n.recipient_id) for n in await notices(db))
    assert kinds == [
        ("notice_period_started", "cadre-li"),
        ("notice_period_started", "reviewer-wang"),
        ("signature_awaited", "cadre-li"),
    ]


async def test_missed_verification_of_a_clue_escalates_to_the_town(
    db: Database, ctx: NotifyContext, clock: MovableClock
) -> None:
    await staff_the_county(db, ctx)
    await handle(db, ctx, handlers.on_clue_accepted, clue_event(due=DUE))
    clock.set_day(DUE + timedelta(days=1))
    await run_sweep(db, ctx)
    got = {n.recipient_id: n.subject for n in await notices(db, phase="escalation")}
    assert got == {
        "cadre-li": "【待核实·已逾期1天】农户H0001有风险线索待入户核实",
        "reviewer-wang": "【待核实·已逾期1天】农户H0001有风险线索待入户核实",
    }


async def test_public_notice_is_announced_when_it_starts_and_once_when_it_has_run(
    db: Database, ctx: NotifyContext, clock: MovableClock
) -> None:
    await staff_the_county(db, ctx)
    last_day = DUE - timedelta(days=2)
    appraisal = case_event(
        "advanced",
        step="village_appraisal",
        due={"approval": DUE, "notice_last_day": last_day},
        when=at(last_day - timedelta(days=4)),
    )
    await handle(db, ctx, handlers.on_case_event, appraisal)
    started = {n.recipient_id: n for n in await notices(db, kind="notice_period_started")}
    assert set(started) == {"cadre-li", "reviewer-wang"}
    assert "公示期：2024年6月6日至2024年6月10日" in started["cadre-li"].body
    for day in (last_day, last_day + timedelta(days=1), last_day + timedelta(days=2)):
        clock.set_day(day)
        await run_sweep(db, ctx)
    ended = await notices(db, kind="notice_period_ended")
    assert sorted(n.recipient_id for n in ended) == ["cadre-li", "reviewer-wang"]
    assert all(n.day == last_day + timedelta(days=1) for n in ended)
    assert "公示已于2024年6月10日结束" in ended[0].body


# ------------------------------------------------------------------ assistance and screening


async def test_dispatched_measure_reaches_the_departments_duty_contact_with_a_masked_id(
    db: Database, ctx: NotifyContext
) -> None:
    await subscribe(db, ctx, "dept:hrss", "dept_duty", COUNTY, dept="hrss")
    await subscribe(db, ctx, "dept:health", "dept_duty", COUNTY, dept="health")
    dispatched = event(
        "measure",
        "dispatched",
        {
            "measure_id": "M-1",
            "dispatch_id": "D-1",
            "plan_id": "P-1",
            "household_id": "H0001",
            "region": region(),
            "type": "employment",
            "dept": "hrss",
            "reply_due": "2024-06-08T09:00:00+00:00",
            "household": {
                "members": [{"name": "张三丰", "relation": "head", "id_number": ID_NUMBER}]
            },
        },
    )
    await handle(db, ctx, handlers.on_measure_dispatched, dispatched)
    (notice,) = await notices(db)
    assert notice.recipient_id == "dept:hrss"
    assert notice.subject == "【帮扶任务】就业帮扶措施已派发至人社局"
    assert "身份证号：652827********3756" in notice.body
    assert ID_NUMBER not in notice.body


async def test_unanswered_measure_escalates_with_what_was_dispatched(
    db: Database, ctx: NotifyContext, clock: MovableClock
) -> None:
    await subscribe(db, ctx, "dept:hrss", "dept_duty", COUNTY, dept="hrss")
    await subscribe(db, ctx, "bureau-zhao", "county_bureau", COUNTY)
    dispatched = event(
        "measure",
        "dispatched",
        {
            "measure_id": "M-1",
            "dispatch_id": "D-1",
            "plan_id": "P-1",
            "household_id": "H0001",
            "region": region(),
            "type": "employment",
            "dept": "hrss",
            "reply_due": "2024-06-08T09:00:00+00:00",
        },
    )
    await handle(db, ctx, handlers.on_measure_dispatched, dispatched)
    clock.set_day(date(2024, 6, 10))
    overdue = event(
        "measure",
        "overdue",
        {
            "measure_id": "M-1",
            "dispatch_id": "D-1",
            "household_id": "H0001",
            "region": region(),
            "dept": "hrss",
            "attempts": 2,
            "escalate_to": "county",
        },
    )
    await handle(db, ctx, handlers.on_measure_overdue, overdue)
    got = {n.recipient_id: n for n in await notices(db, kind="measure_overdue")}
    assert set(got) == {"dept:hrss", "bureau-zhao"}
    assert got["bureau-zhao"].subject == "【措施逾期】人社局牵头的就业帮扶措施未按时反馈"
    assert "已逾期：2天" in got["bureau-zhao"].body
    assert "已派发：2次" in got["bureau-zhao"].body


async def test_visit_task_reminds_the_contact_cadre_until_it_is_done(
    db: Database, ctx: NotifyContext, clock: MovableClock
) -> None:
    await subscribe(db, ctx, "cadre-ma", "contact_cadre", VILLAGE)
    task = {
        "task_id": "visit:H0001:2024-06-12",
        "kind": "visit",
        "household_id": "H0001",
        "region": region(),
        "due": DUE.isoformat(),
        "details": {"assignees": ["cadre-ma"]},
    }
    await handle(db, ctx, handlers.on_task_due, event("task", "due", task))
    clock.set_day(DUE - timedelta(days=2))
    await run_sweep(db, ctx)
    (before,) = await notices(db, phase="before")
    assert before.recipient_id == "cadre-ma"
    assert before.subject == "【走访提醒·还有2天到期】请按时走访农户H0001"
    done = {**task, "details": {"assignees": ["cadre-ma"], "status": "done"}}
    await handle(db, ctx, handlers.on_task_due, event("task", "due", done, event_id="v-done"))
    clock.set_day(DUE)
    await run_sweep(db, ctx)
    assert [n.phase for n in await notices(db)] == ["before"]
    (deadline,) = (await deadlines(db)).values()
    assert (deadline.status, deadline.closed_reason) == ("closed", "task done")


async def test_a_task_for_the_township_without_assignees_reaches_the_town_reviewer(
    db: Database, ctx: NotifyContext, clock: MovableClock
) -> None:
    await staff_the_county(db, ctx)
    task = {  # as assistance emits a plan's due task when nobody is assigned yet
        "task_id": "replace:M-3",
        "kind": "measure_replacement",
        "household_id": "H0001",
        "region": region(),
        "due": DUE.isoformat(),
        "recipient_role": "township",
        "details": {"plan_id": "P-1", "assignees": [], "dept": "hrss"},
    }
    await handle(db, ctx, handlers.on_task_due, event("task", "due", task))
    clock.set_day(DUE)
    await run_sweep(db, ctx)
    (notice,) = await notices(db, phase="due")
    assert notice.recipient_id == "reviewer-wang"
    assert notice.subject == "【待办事项·今日到期】请按时完成：选定替代帮扶措施"
    clock.set_day(DUE + timedelta(days=1))
    await run_sweep(db, ctx)
    assert sorted(n.recipient_id for n in await notices(db, phase="escalation")) == [
        "bureau-zhao",
        "reviewer-wang",
    ]


async def test_recorded_income_settles_that_quarters_collection_task(
    db: Database, ctx: NotifyContext
) -> None:
    task = {
        "task_id": "income:H0001:2024-04-01",
        "kind": "income_collection",
        "household_id": "H0001",
        "region": region(),
        "due": "2024-07-10",
        "details": {"period_start": "2024-04-01", "period_end": "2024-06-30"},
    }
    await handle(db, ctx, handlers.on_task_due, event("task", "due", task))
    (deadline,) = (await deadlines(db)).values()
    assert deadline.context["quarter"] == "2024Q2"
    income = {
        "household_id": "H0001",
        "region": region(),
        "plan_id": "P-1",
        "period_start": "2024-04-01",
        "period_end": "2024-06-30",
        "members": 3,
        "wage": 6000,
        "business": 0,
        "property": 0,
        "transfer": 1200,
        "production_costs": 0,
        "net": 7200,
        "per_capita": 2400,
        "method": "household_visit",
        "collected_by": "cadre-ma",
        "recorded_at": "2024-07-03T02:00:00+00:00",
    }
    await handle(db, ctx, handlers.on_income_recorded, event("followup", "income_recorded", income))
    (deadline,) = (await deadlines(db)).values()
    assert (deadline.status, deadline.closed_reason) == ("closed", "income recorded")


async def test_scale_risk_alert_goes_at_once_to_the_county_bureau_and_the_town(
    db: Database, ctx: NotifyContext
) -> None:
    await staff_the_county(db, ctx)
    alert = event(
        "screening",
        "scale_risk",
        {
            "alert_id": "A-1",
            "village": VILLAGE,
            "indicator": "未消除风险户占比",
            "value": 0.35,
            "limit": 0.3,
            "details": {"summary": f"户主{ID_NUMBER}因灾致贫"},
        },
    )
    await handle(db, ctx, handlers.on_scale_risk, alert)
    got = {n.recipient_id: n for n in await notices(db)}
    assert set(got) == {"bureau-zhao", "reviewer-wang"}
    assert all(n.urgent for n in got.values())
    assert "当前值：0.35（预警线0.3）" in got["bureau-zhao"].body
    assert ID_NUMBER not in got["bureau-zhao"].body


async def test_plan_created_reaches_the_village_cadre_with_measures_and_open_issues(
    db: Database, ctx: NotifyContext
) -> None:
    await staff_the_county(db, ctx)
    plan = {
        "plan_id": "P-1",
        "household_id": "H0001",
        "region": region(),
        "due": "2024-06-20",
        "measures": [
            {"measure_id": "M-1", "type": "employment", "dept": "hrss", "status": "proposed"},
            {"measure_id": "M-2", "type": "health", "dept": "health", "status": "proposed"},
        ],
        "violations": ["contact_cadre_required"],
        "contact_cadres": ["cadre-ma"],
    }
    await subscribe(db, ctx, "cadre-ma", "contact_cadre", COUNTY)
    await handle(db, ctx, handlers.on_plan_created, event("plan", "created", plan))
    assert sorted(n.recipient_id for n in await notices(db)) == ["cadre-li", "cadre-ma"]
    (notice,) = await notices(db, recipient_id="cadre-li")
    assert "帮扶措施：就业帮扶、健康帮扶" in notice.body
    assert "待处理问题：contact_cadre_required" in notice.body


# ------------------------------------------------------------------ digest


async def test_past_the_threshold_routine_notices_wait_for_the_next_days_digest(
    db: Database, clock: MovableClock
) -> None:
    ctx = make_context(clock, parameters(digest_threshold=2))
    await staff_the_county(db, ctx)
    for n in range(5):
        await handle(db, ctx, handlers.on_clue_accepted, clue_event(clue_id=f"CL-{n}", due=DUE))
    states = [n.status for n in await notices(db, recipient_id="cadre-li")]
    assert states == ["pending", "pending", "held", "held", "held"]
    clock.set_day(clock().date() + timedelta(days=1), hour=9)
    await run_sweep(db, ctx)
    (digest,) = await notices(db, kind="digest")
    assert digest.recipient_id == "cadre-li"
    assert digest.subject == "【每日汇总】2024年6月7日您有3条待办事项"
    assert "1. 【待核实】农户H0001有风险线索待入户核实" in digest.body
    states = [n.status for n in await notices(db, recipient_id="cadre-li") if n.kind != "digest"]
    assert states == ["pending", "pending", "digested", "digested", "digested"]


async def test_a_recipients_many_reminders_of_one_morning_come_as_one_digest(
    db: Database, clock: MovableClock
) -> None:
    ctx = make_context(clock, parameters(digest_threshold=2))
    await subscribe(db, ctx, "cadre-ma", "contact_cadre", VILLAGE)
    for n in range(3):
        task = {
            "task_id": f"visit:H000{n}:{DUE.isoformat()}",
            "kind": "visit",
            "household_id": f"H000{n}",
            "region": region(),
            "due": DUE.isoformat(),
            "details": {"assignees": ["cadre-ma"]},
        }
        await handle(db, ctx, handlers.on_task_due, event("task", "due", task))
    clock.set_day(DUE - timedelta(days=2), hour=8)
    await run_sweep(db, ctx)
    rows = await notices(db)
    assert [n.status for n in rows if n.kind != "digest"] == ["digested"] * 3
    (digest,) = [n for n in rows if n.kind == "digest"]
    assert digest.status == "pending"
    assert digest.subject == "【每日汇总】2024年6月10日您有3条待办事项"
    clock.set_day(DUE)  # due-today reminders are urgent: never held back
    await run_sweep(db, ctx)
    assert [n.status for n in await notices(db, phase="due")] == ["pending"] * 3


# ------------------------------------------------------------------ subscriptions


async def test_subscribing_twice_updates_the_one_subscription(
    db: Database, ctx: NotifyContext
) -> None:
    first = await subscribe(db, ctx, "cadre-li", "village_cadre", VILLAGE)
    again = await subscribe(
        db, ctx, "cadre-li", "village_cadre", VILLAGE, event_kinds=["case_decided"]
    )
    assert first.subscription_id == again.subscription_id
    assert again.event_kinds == ["case_decided"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"role": "mayor"}, "role: 'mayor'"),
        ({"region": "65282710100"}, "region:"),
        ({"channel": "fax"}, "channel: 'fax'"),
        ({"channel": "sms", "address": "13812345678"}, "channel: sms is not configured"),
        ({"channel": "webhook", "address": "ftp://x"}, "address: not an http(s) URL"),
        ({"event_kinds": ["gossip"]}, "event_kinds: 'gossip'"),
    ],
)
async def test_bad_subscription_is_refused_naming_the_field(
    db: Database, ctx: NotifyContext, kwargs: dict[str, object], field: str
) -> None:
    given = dict(kwargs)
    role = str(given.pop("role", "village_cadre"))
    area = str(given.pop("region", VILLAGE))
    with pytest.raises(InvalidSubscription) as err:
        await subscribe(db, ctx, "x", role, area, **given)
    assert str(err.value).startswith(field)


async def test_unsubscribed_recipient_no_longer_receives(db: Database, ctx: NotifyContext) -> None:
    await subscribe(db, ctx, "cadre-li", "village_cadre", VILLAGE)
    async with db.uow() as uow:
        assert await handlers.unsubscribe(uow, ctx, recipient_id="cadre-li") == 1
        await uow.commit()
    await handle(db, ctx, handlers.on_clue_accepted, clue_event())
    assert [n.recipient_id for n in await notices(db)] == [f"unassigned:village_cadre@{VILLAGE}"]


def test_notice_payloads_are_json_serializable_for_the_outbox() -> None:
    # The deadline context round-trips through JSON with its dates.
    from fangpin_notify.service_layer.notifications import decode_context, encode_context

    context = {"due_date": DUE, "case_id": "C-7", "risk_types": ["illness"]}
    assert decode_context(json.loads(json.dumps(encode_context(context)))) == context
