"""Assistance's use cases against a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest

from assistance_support import (
    COUNTY,
    FakeClock,
    case_decided,
    context,
    household,
    ill_household_in_unsafe_house,
    reply,
    rows,
)
from fangpin_assistance.adapters.orm import (
    MIGRATIONS,
    ContactCadreRow,
    HistoryRow,
    MeasureRow,
    PlanRow,
    ReplacementRow,
    ReplyRow,
    TaskRow,
    metadata,
)
from fangpin_assistance.domain.measure import dispatch_id_for
from fangpin_assistance.domain.plan import PlanRulesViolated
from fangpin_assistance.service_layer import handlers
from fangpin_assistance.service_layer.handlers import AssistanceContext, InvalidInput
from fangpin_kit import migrations
from fangpin_kit.db import Database


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    migrations.upgrade(MIGRATIONS, db_url)
    database = Database.connect(db_url, metadata)
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ctx(clock: FakeClock) -> AssistanceContext:
    return context(clock)


async def on_roster(db: Database, ctx: AssistanceContext, cadre: str = "cadre-wang") -> None:
    async with db.uow() as uow:
        await handlers.assign_region_cadre(uow, ctx, COUNTY, cadre, "test")
        await uow.commit()


async def decide(db: Database, ctx: AssistanceContext, event) -> list:  # type: ignore[no-untyped-def]
    async with db.uow() as uow:
        await handlers.decide_case(uow, ctx, event)
        emitted = uow.emitted
        await uow.commit()
    return emitted


async def test_identified_household_gets_a_plan_adopted_at_once_and_dispatched(
    db: Database, ctx: AssistanceContext
) -> None:
    await on_roster(db, ctx)
    emitted = await decide(db, ctx, case_decided(ill_household_in_unsafe_house()))
    subjects = [s for s, _ in emitted]
    assert subjects[0] == f"fp.{COUNTY}.plan.created"
    assert sorted(subjects[1:]) == [
        f"fp.{COUNTY}.measure.dispatched.housing",
        f"fp.{COUNTY}.measure.dispatched.hrss",
        f"fp.{COUNTY}.measure.dispatched.medical_insurance",
    ]
    created = emitted[0][1]
    assert created.id == "P-H00001-1.created"
    assert created.data["status"] == "active"
    assert created.data["violations"] == []
    assert created.data["contact_cadres"] == ["cadre-wang"]
    for _, event in emitted[1:]:
        assert event.id == dispatch_id_for(event.data["measure_id"])
        assert event.data["dispatch_id"] == event.id
        assert event.data["attempt"] == 1
        assert event.data["household"]["household_id"] == "H00001"
    [plan] = await rows(db, PlanRow)
    assert (plan.status, plan.confirmed_by) == ("active", ctx.auto_confirm_by)
    assert plan.due_on == date(2024, 5, 16)  # 10 days after identification
    measures = await rows(db, MeasureRow)
    assert {m.status for m in measures} == {"dispatched"}


async def measure_of(db: Database, dept: str) -> MeasureRow:
    [row] = await rows(db, MeasureRow, MeasureRow.department == dept)
    return row


async def apply(db: Database, ctx: AssistanceContext, event) -> tuple[str | None, list]:  # type: ignore[no-untyped-def]
    async with db.uow() as uow:
        outcome = await handlers.receive_reply(uow, ctx, event)
        emitted = uow.emitted
        await uow.commit()
    return outcome, emitted


async def test_plan_without_contact_cadre_waits_and_names_the_violation(
    db: Database, ctx: AssistanceContext
) -> None:
    emitted = await decide(db, ctx, case_decided(ill_household_in_unsafe_house()))
    assert [s for s, _ in emitted] == [f"fp.{COUNTY}.plan.created", f"fp.{COUNTY}.task.due"]
    created, task = emitted[0][1], emitted[1][1]
    assert created.data["status"] == "proposed"
    assert created.data["violations"] == ["contact_cadre_required"]
    assert task.id == "plan_due:P-H00001-1"
    assert task.data["due"] == "2024-05-16"
    assert task.data["details"]["violations"] == ["contact_cadre_required"]
    async with db.uow() as uow:
        with pytest.raises(PlanRulesViolated, match="contact_cadre_required"):
            await handlers.confirm_plan(uow, ctx, "H00001", "cadre-li", {})
    async with db.uow() as uow:
        plan = await handlers.assign_contact_cadre(uow, ctx, "H00001", "cadre-li")
        assert plan.status.value == "proposed"
        await handlers.confirm_plan(uow, ctx, "H00001", "cadre-li", {})
        emitted = uow.emitted
        await uow.commit()
    settled = [e for s, e in emitted if s.endswith(".task.due")]
    assert [(e.id, e.data["details"]["status"]) for e in settled] == [
        ("plan_due:P-H00001-1.done", "done")  # notify stops its reminders
    ]
    assert sum(".measure.dispatched." in s for s, _ in emitted) == 3
    [due] = await rows(db, TaskRow)
    assert (due.status, due.close_reason) == ("done", "plan_confirmed")


async def test_repeated_or_replayed_case_decision_is_harmless(
    db: Database, ctx: AssistanceContext
) -> None:
    await on_roster(db, ctx)
    record = ill_household_in_unsafe_house()
    await decide(db, ctx, case_decided(record, event_id="e-1"))
    assert await decide(db, ctx, case_decided(record, event_id="e-2")) == []
    # another identification of the same household continues its one plan
    assert await decide(db, ctx, case_decided(record, case_id="C-2")) == []
    [plan] = await rows(db, PlanRow)
    assert plan.live_household_id == "H00001"
    assert len(await rows(db, MeasureRow)) == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"with_household": False}, r"^household: the decision carries no household record"),
        ({"risk_types": ("illness", "bad_luck")}, r"^risk_types\[1\]: unknown risk type"),
        ({"category": "rich"}, r"^category: unknown category 'rich'"),
    ],
)
async def test_bad_case_decision_is_refused_naming_the_field_and_stores_nothing(
    db: Database, ctx: AssistanceContext, change: dict, message: str
) -> None:
    from fangpin_kit.bus import PermanentError

    async with db.uow() as uow:
        with pytest.raises(PermanentError, match=message):
            await handlers.decide_case(uow, ctx, case_decided(household(), **change))
    bad = household()
    bad["members"][0]["labor_capacity"] = "tireless"
    async with db.uow() as uow:
        with pytest.raises(PermanentError, match=r"^household\.members\[0\]\.labor_capacity"):
            await handlers.decide_case(uow, ctx, case_decided(bad))
    assert await rows(db, PlanRow) == []


async def test_department_replies_move_the_measure_and_are_logged(
    db: Database, ctx: AssistanceContext, clock: FakeClock
) -> None:
    await on_roster(db, ctx)
    await decide(db, ctx, case_decided(ill_household_in_unsafe_house()))
    job = await measure_of(db, "hrss")
    assert await apply(db, ctx, reply("accepted", job.measure_id, "hrss", event_id="r-1")) == (
        "applied",
        [],
    )
    assert (await measure_of(db, "hrss")).status == "in_progress"
    clock.advance(days=3)
    await apply(db, ctx, reply("completed", job.measure_id, "hrss", event_id="r-2"))
    done = await measure_of(db, "hrss")
    assert (done.status, done.implemented_on) == ("completed", date(2024, 5, 6))
    changes = await rows(
        db,
        HistoryRow,
        HistoryRow.measure_id == job.measure_id,
        HistoryRow.kind == "measure_status_changed",
    )
    assert [(h.details["old"], h.details["new"], h.reply_id) for h in changes] == [
        ("proposed", "dispatched", None),
        ("dispatched", "accepted", "r-1"),
        ("accepted", "in_progress", "r-1"),
        ("in_progress", "completed", "r-2"),
    ]
    assert [(r.reply_id, r.outcome) for r in await rows(db, ReplyRow)] == [
        ("r-1", "applied"),
        ("r-2", "applied"),
    ]


async def test_same_reply_handled_three_times_changes_the_measure_once(
    db: Database, ctx: AssistanceContext
) -> None:
    """The inbox is bypassed here: the plan itself remembers the reply ids it applied."""
    await on_roster(db, ctx)
    await decide(db, ctx, case_decided(ill_household_in_unsafe_house()))
    job = await measure_of(db, "hrss")
    accepted = reply("accepted", job.measure_id, "hrss", event_id="r-1")
    outcomes = [(await apply(db, ctx, accepted))[0] for _ in range(3)]
    assert outcomes == ["applied", "duplicate", "duplicate"]
    changes = await rows(db, HistoryRow, HistoryRow.reply_id == "r-1")
    assert [h.details["new"] for h in changes] == ["accepted", "in_progress"]
    assert (await measure_of(db, "hrss")).seen_reply_ids == ["r-1"]


async def test_replies_for_unknown_or_closed_measures_are_recorded_and_ignored(
    db: Database, ctx: AssistanceContext
) -> None:
    await on_roster(db, ctx)
    await decide(db, ctx, case_decided(ill_household_in_unsafe_house()))
    job = await measure_of(db, "hrss")
    await apply(db, ctx, reply("completed", job.measure_id, "hrss", event_id="r-1"))
    late = reply("rejected", job.measure_id, "hrss", event_id="r-2", reason="quota_exhausted")
    stranger = reply("accepted", "P-NOPE-1-001", "hrss", event_id="r-3")
    foreign = reply("accepted", job.measure_id, "education", event_id="r-4")
    forged = reply("accepted", job.measure_id, "hrss", event_id="r-5", dispatch_id="not-ours")
    for event in (late, stranger, foreign, forged):
        assert (await apply(db, ctx, event))[0] == "ignored"
    assert (await measure_of(db, "hrss")).status == "completed"
    log = {r.reply_id: (r.outcome, r.ignored_because) for r in await rows(db, ReplyRow)}
    assert log == {
        "r-1": ("applied", None),
        "r-2": ("ignored", "measure_closed:completed"),
        "r-3": ("ignored", "unknown_measure"),
        "r-4": ("ignored", "department_mismatch:education"),
        "r-5": ("ignored", "dispatch_id_mismatch"),
    }


async def test_rejected_measure_gets_a_replacement_proposal_the_cadre_can_take(
    db: Database, ctx: AssistanceContext
) -> None:
    await on_roster(db, ctx)
    await decide(db, ctx, case_decided(ill_household_in_unsafe_house()))
    house = await measure_of(db, "housing")
    rejected = reply(
        "rejected", house.measure_id, "housing", event_id="r-1", reason="quota_exhausted"
    )
    _, emitted = await apply(db, ctx, rejected)
    [(subject, task)] = emitted
    assert subject == f"fp.{COUNTY}.task.due"
    assert task.id == f"replace:{house.measure_id}"
    assert task.data["kind"] == "measure_replacement"
    assert task.data["details"]["proposed"] == "relocation.resettlement"
    assert task.data["details"]["reason"] == "quota_exhausted"
    [proposal] = await rows(db, ReplacementRow)
    assert (proposal.proposed_key, proposal.status) == ("relocation.resettlement", "open")
    async with db.uow() as uow:
        _, new = await handlers.replace_measure(
            uow, ctx, house.measure_id, by="cadre-wang", reason="renovation quota used up"
        )
        out = [s for s, _ in uow.emitted]
        await uow.commit()
    assert out == [
        f"fp.{COUNTY}.task.due",  # the replacement task, settled
        f"fp.{COUNTY}.measure.dispatched.development_reform",
    ]
    assert (new.key, new.replaces) == ("relocation.resettlement", house.measure_id)
    [proposal] = await rows(db, ReplacementRow)
    assert (proposal.status, proposal.replaced_by) == ("done", new.measure_id)
    [task_row] = await rows(db, TaskRow)
    assert task_row.status == "done"


async def test_unanswered_measure_is_redispatched_under_new_envelope_ids_then_escalated(
    db: Database, ctx: AssistanceContext, clock: FakeClock
) -> None:
    await on_roster(db, ctx)
    await decide(db, ctx, case_decided(ill_household_in_unsafe_house()))
    silent = await measure_of(db, "medical_insurance")
    dispatch_id = dispatch_id_for(silent.measure_id)
    seen: list[tuple[str, str, int]] = []
    for _ in range(4):
        clock.advance(hours=72)
        async with db.uow() as uow:
            await handlers.tick_plan(uow, ctx, silent.plan_id)
            seen += [
                (s.rsplit(".", 1)[-1], e.id, e.data.get("attempt") or e.data.get("attempts"))
                for s, e in uow.emitted
                if e.data.get("measure_id") == silent.measure_id
            ]
            await uow.commit()
    assert seen == [
        ("medical_insurance", f"{dispatch_id}.attempt-2", 2),
        ("medical_insurance", f"{dispatch_id}.attempt-3", 3),
        ("overdue", f"{dispatch_id}.overdue", 3),
    ]
    row = await measure_of(db, "medical_insurance")
    assert (row.status, row.attempts, row.escalated_at) == (
        "dispatched",
        3,
        clock.now - timedelta(hours=72),
    )


async def test_followup_tasks_are_announced_once_and_closed_by_visits_and_incomes(
    db: Database, ctx: AssistanceContext, clock: FakeClock
) -> None:
    await on_roster(db, ctx)
    await decide(db, ctx, case_decided(ill_household_in_unsafe_house()))
    [plan] = await rows(db, PlanRow)

    async def generate() -> list[str]:
        async with db.uow() as uow:
            await handlers.generate_followup_tasks(uow, ctx, plan.plan_id)
            ids = [e.id for _, e in uow.emitted]
            await uow.commit()
        return ids

    assert await generate() == []  # the first monthly visit is due 06-06, beyond 30 days
    clock.advance(days=1)
    assert await generate() == ["visit:H00001:2024-06-06"]
    assert await generate() == []
    clock.advance(days=39)  # 2024-06-15: the visit is overdue, Q2 income falls due 07-10
    # the missed visit stays open and the next one is projected a month on
    assert await generate() == ["visit:H00001:2024-07-06", "income:H00001:2024-04-01"]
    async with db.uow() as uow:
        _, closed = await handlers.record_household_visit(
            uow, ctx, "H00001", visited_on=date(2024, 6, 14), cadre_id="cadre-wang", mode="phone"
        )
        assert [e.id for _, e in uow.emitted] == [
            "visit:H00001:2024-06-06.done",
            "visit:H00001:2024-07-06.done",
            "visit:H00001:2024-07-14",
        ]
        await uow.commit()
    assert sorted(closed) == ["visit:H00001:2024-06-06", "visit:H00001:2024-07-06"]
    clock.advance(days=20)  # 2024-07-05: the quarter is over
    async with db.uow() as uow:
        income = await handlers.record_household_income(
            uow,
            ctx,
            "H00001",
            period_start=date(2024, 4, 1),
            figures={"wage": 2500, "business": 600, "production_costs": 100},
            members=2,
            method="in_person",
            collected_by="cadre-wang",
        )
        (subject, event), (_, settled) = uow.emitted
        await uow.commit()
    assert (settled.id, settled.data["details"]["status"]) == (
        "income:H00001:2024-04-01.done",
        "done",
    )
    assert subject == f"fp.{COUNTY}.followup.income_recorded"
    assert event.id == "income:H00001:2024-04-01:r1"
    assert (event.data["net"], event.data["per_capita"]) == (3000.0, 1500.0)
    assert income.revision == 1
    tasks = {t.task_id: t.status for t in await rows(db, TaskRow)}
    assert tasks == {
        "visit:H00001:2024-06-06": "done",
        "visit:H00001:2024-07-06": "done",
        "visit:H00001:2024-07-14": "open",
        "income:H00001:2024-04-01": "done",
    }
    async with db.uow() as uow:  # a correction is a new revision with a new event id
        await handlers.record_household_income(
            uow,
            ctx,
            "H00001",
            period_start=date(2024, 4, 1),
            figures={"wage": 2600},
            members=2,
            method="phone",
            collected_by="cadre-wang",
        )
        assert [e.id for _, e in uow.emitted] == ["income:H00001:2024-04-01:r2"]
        await uow.commit()


@pytest.mark.parametrize(
    ("period", "figures", "members", "path"),
    [
        (date(2024, 4, 2), {}, 2, "period_start"),
        (date(2024, 7, 1), {}, 2, "period_start"),  # the quarter has not ended yet
        (date(2024, 4, 1), {"wage": -1}, 2, "wage"),
        (date(2024, 4, 1), {}, 0, "members"),
    ],
)
async def test_bad_income_is_refused_naming_the_field(
    db: Database,
    ctx: AssistanceContext,
    clock: FakeClock,
    period: date,
    figures: dict,
    members: int,
    path: str,
) -> None:
    await on_roster(db, ctx)
    await decide(db, ctx, case_decided(ill_household_in_unsafe_house()))
    clock.advance(days=60)
    async with db.uow() as uow:
        with pytest.raises(InvalidInput) as err:
            await handlers.record_household_income(
                uow,
                ctx,
                "H00001",
                period_start=period,
                figures=figures,
                members=members,
                method="in_person",
                collected_by="cadre-wang",
            )
    assert err.value.path == path


async def test_visit_in_the_future_is_refused(db: Database, ctx: AssistanceContext) -> None:
    await on_roster(db, ctx)
    await decide(db, ctx, case_decided(ill_household_in_unsafe_house()))
    async with db.uow() as uow:
        with pytest.raises(InvalidInput, match=r"^visited_on: visit on 2024-05-07 is after"):
            await handlers.record_household_visit(
                uow, ctx, "H00001", visited_on=date(2024, 5, 7), cadre_id="c", mode="in_person"
            )
        with pytest.raises(InvalidInput, match=r"^mode: one of in_person, phone, message"):
            await handlers.record_household_visit(
                uow, ctx, "H00001", visited_on=date(2024, 5, 6), cadre_id="c", mode="fax"
            )


async def test_green_channel_plan_stops_when_the_channel_closes_and_a_new_plan_can_follow(
    db: Database, ctx: AssistanceContext, clock: FakeClock
) -> None:
    await on_roster(db, ctx)
    record = ill_household_in_unsafe_house()
    emitted = await decide(
        db, ctx, case_decided(record, outcome="green_channel", green_channel=True, category=None)
    )
    assert emitted[0][1].data["green_channel"] is True
    [plan] = await rows(db, PlanRow)
    clock.advance(days=31)
    await decide(
        db,
        ctx,
        case_decided(
            record, outcome="green_channel_expired", green_channel=True, reason="month over"
        ),
    )
    [plan] = await rows(db, PlanRow)
    assert (plan.status, plan.stop_reason, plan.live_household_id) == (
        "stopped",
        "month over",
        None,
    )
    assert {m.status for m in await rows(db, MeasureRow)} == {"withdrawn"}
    clock.advance(days=10)
    await decide(db, ctx, case_decided(record, case_id="C-2", at=clock.now))
    plans = {p.plan_id: p.status for p in await rows(db, PlanRow)}
    assert plans == {"P-H00001-1": "stopped", "P-H00001-2": "active"}


async def test_green_channel_household_approved_later_keeps_its_plan(
    db: Database, ctx: AssistanceContext
) -> None:
    await on_roster(db, ctx)
    record = ill_household_in_unsafe_house()
    await decide(db, ctx, case_decided(record, outcome="green_channel", green_channel=True))
    await decide(db, ctx, case_decided(record, outcome="approved", green_channel=True))
    [plan] = await rows(db, PlanRow)
    assert (plan.status, plan.green_channel) == ("active", False)


async def test_risk_elimination_continues_measures_with_a_running_term(
    db: Database, ctx: AssistanceContext, clock: FakeClock
) -> None:
    await on_roster(db, ctx)
    record = household()  # able to work, no risk: a job placement is proposed
    await decide(db, ctx, case_decided(record, risk_types=("other",)))
    [plan] = await rows(db, PlanRow)
    async with db.uow() as uow:
        await handlers.adjust_plan(
            uow,
            ctx,
            "H00001",
            by="cadre-wang",
            reason="microcredit for the greenhouse",
            add=[handlers.MeasureSpec("finance.microcredit")],
        )
        await uow.commit()
    loan = await measure_of(db, "finance")
    job = (await rows(db, MeasureRow, MeasureRow.department == "hrss"))[0]
    await apply(
        db,
        ctx,
        reply("accepted", loan.measure_id, "finance", event_id="r-1", term_end=date(2027, 5, 5)),
    )
    await apply(db, ctx, reply("accepted", job.measure_id, "hrss", event_id="r-2"))
    clock.advance(days=200)
    await decide(db, ctx, case_decided(record, case_id="E-1", kind="elimination", at=clock.now))
    loan, job = await measure_of(db, "finance"), await measure_of(db, "hrss")
    assert (loan.status, loan.continues_until) == ("in_progress", date(2027, 5, 5))
    assert (job.status, job.close_reason) == ("expired", "risk_eliminated:no_term")
    [plan] = await rows(db, PlanRow)
    assert plan.risk_eliminated_on == china_day(clock)


def china_day(clock: FakeClock) -> date:
    from fangpin_kit.clock import china_date

    return china_date(clock.now)


async def test_adjustment_breaking_a_rule_is_refused_by_its_name(
    db: Database, ctx: AssistanceContext
) -> None:
    await on_roster(db, ctx)
    await decide(db, ctx, case_decided(ill_household_in_unsafe_house()))
    job = await measure_of(db, "hrss")
    async with db.uow() as uow:
        with pytest.raises(PlanRulesViolated, match=r"developmental_required"):
            await handlers.adjust_plan(
                uow, ctx, "H00001", by="cadre-wang", reason="no jobs", withdraw=[job.measure_id]
            )
        with pytest.raises(InvalidInput, match=r"^add\[0\]\.measure_key: unknown measure"):
            await handlers.adjust_plan(
                uow,
                ctx,
                "H00001",
                by="cadre-wang",
                reason="typo",
                add=[handlers.MeasureSpec("finance.lottery")],
            )
        with pytest.raises(InvalidInput, match=r"^add\[0\]\.beneficiary: no member 'm9'"):
            await handlers.adjust_plan(
                uow,
                ctx,
                "H00001",
                by="cadre-wang",
                reason="typo",
                add=[handlers.MeasureSpec("employment.skills_training", "m9")],
            )
    assert (await measure_of(db, "hrss")).status == "dispatched"


async def test_concurrent_writers_of_one_plan_do_not_both_win(
    db: Database, ctx: AssistanceContext
) -> None:
    from sqlalchemy.orm.exc import StaleDataError

    from fangpin_assistance.adapters.repository import PlanRepository

    await on_roster(db, ctx)
    await decide(db, ctx, case_decided(ill_household_in_unsafe_house()))
    [plan_row] = await rows(db, PlanRow)
    async with db.uow() as first, db.uow() as second:
        a = PlanRepository(first.session)
        b = PlanRepository(second.session)
        plan_a = await a.get(plan_row.plan_id)
        plan_b = await b.get(plan_row.plan_id)
        assert plan_a is not None and plan_b is not None
        plan_a.assign_contact_cadre("cadre-a", ctx.clock())
        await a.save(plan_a, ctx.clock())
        await first.commit()
        plan_b.assign_contact_cadre("cadre-b", ctx.clock())
        with pytest.raises(StaleDataError):
            await b.save(plan_b, ctx.clock())
            await second.commit()
    cadres = await rows(db, ContactCadreRow)
    assert sorted(c.cadre_id for c in cadres) == ["cadre-a", "cadre-wang"]
