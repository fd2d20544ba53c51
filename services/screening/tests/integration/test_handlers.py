"""Screening's use cases against a real store (SQLite and PostgreSQL): clues decided with their
trace, monitoring from case decisions, income periods, elimination and roll-back checks."""

from __future__ import annotations

import datetime as dt

import pytest
from screening_integration import (
    CHINA,
    COUNTY,
    Clock,
    case_decided,
    clue_event,
    committed,
    household,
    measure_events,
    quarter_income,
    rows,
)

from fangpin_contracts.events import ScreeningDecided
from fangpin_kit.bus import PermanentError
from fangpin_kit.db import Database
from fangpin_screening.adapters.orm import (
    ClueRecordRow,
    DecisionRow,
    HouseholdSnapshotRow,
    IncomeRow,
    MonitoringRow,
)
from fangpin_screening.service_layer import handlers
from fangpin_screening.service_layer.handlers import (
    NotFound,
    NotMonitored,
    ScreeningContext,
)


async def test_clue_is_decided_as_of_its_registration_day_stored_with_trace_and_announced(
    db: Database, ctx: ScreeningContext
) -> None:
    record = household("H0000001", per_capita=5000.0)
    event = clue_event("CL-1", record)
    row, emitted = await committed(db, lambda uow: handlers.on_clue_accepted(uow, ctx, event))

    [(subject, announced)] = emitted
    assert subject == f"fp.{COUNTY}.screening.decided"
    assert announced.id == "CL-1.decided"
    assert announced.type == "cn.fangpin.screening.decided.v1"
    payload = ScreeningDecided.model_validate(announced.data)
    assert payload.decision_id == row.decision_id
    assert payload.clue_id == "CL-1" and payload.reason == "clue"
    assert payload.region.village == record["region"]["village"]
    assert payload.decision["as_of"] == "2024-07-15"
    assert payload.decision["ruleset"] == "cn@2024-01-01"
    assert payload.decision["in_scope"] is True
    assert payload.decision["category"] == "marginal"
    assert payload.household["members"][0]["labor_capacity"] == "full"  # defaults filled in
    assert payload.rollback is False

    [stored] = await rows(db, DecisionRow)
    assert stored.decision == payload.decision
    hits = {e["rule"] for e in stored.decision["trace"] if e["hit"]}
    assert {"income_below_threshold", "category.marginal", "risk.other"} <= hits
    assert stored.in_scope and stored.eligible and stored.ruleset == "cn@2024-01-01"
    [snapshot] = await rows(db, HouseholdSnapshotRow)
    assert snapshot.per_capita == 5000.0 and snapshot.source == "clue"
    [clue] = await rows(db, ClueRecordRow)
    assert (clue.kind, clue.village) == ("high_medical_expense", record["region"]["village"])


async def test_a_clue_registered_late_at_night_utc_is_judged_on_the_china_date(
    db: Database, ctx: ScreeningContext
) -> None:
    # 2024-12-31 17:00 UTC is already 2025-01-01 in China: the 2025 threshold (7500) applies
    late = dt.datetime(2024, 12, 31, 17, tzinfo=dt.UTC)
    record = household("H0000002", per_capita=7400.0)
    _, emitted = await committed(
        db,
        lambda uow: handlers.on_clue_accepted(
            uow, ctx, clue_event("CL-2", record, registered_at=late)
        ),
    )
    decision = emitted[0][1].data["decision"]
    assert (decision["as_of"], decision["ruleset"], decision["threshold"]) == (
        "2025-01-01",
        "cn@2025-01-01",
        7500,
    )
    assert decision["in_scope"] is True


async def test_the_same_clue_decided_again_keeps_one_decision_and_announces_nothing(
    db: Database, ctx: ScreeningContext
) -> None:
    event = clue_event("CL-3", household("H0000003"))
    first, _ = await committed(db, lambda uow: handlers.on_clue_accepted(uow, ctx, event))
    again, emitted = await committed(db, lambda uow: handlers.on_clue_accepted(uow, ctx, event))
    assert again.decision_id == first.decision_id
    assert emitted == []
    assert len(await rows(db, DecisionRow)) == 1


async def test_a_clue_with_a_bad_household_record_is_refused_naming_the_field(
    db: Database, ctx: ScreeningContext
) -> None:
    record = household("H0000004")
    good = record["members"][0]["id_number"]
    record["members"][0]["id_number"] = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(PermanentError, match=r"^household\.members\[0\]\.id_number: bad check"):
        await committed(
            db, lambda uow: handlers.on_clue_accepted(uow, ctx, clue_event("CL-4", record))
        )
    other = clue_event("CL-5", household("H0000005", county="110101"), county="110101")
    with pytest.raises(PermanentError, match=r"^region\.county: household of county 110101"):
        await committed(db, lambda uow: handlers.on_clue_accepted(uow, ctx, other))
    assert await rows(db, DecisionRow) == []
    assert await rows(db, HouseholdSnapshotRow) == []


async def test_case_decisions_make_a_household_monitored_then_eliminated(
    db: Database, ctx: ScreeningContext
) -> None:
    record = household("H0000006")
    approved = case_decided(record, risk_types=["illness", "labor_shortage"])
    await committed(db, lambda uow: handlers.on_case_decided(uow, ctx, approved))
    [row] = await rows(db, MonitoringRow)
    assert (row.status, row.risk_types, row.since) == (
        "monitored",
        ["illness", "labor_shortage"],
        dt.date(2024, 7, 15),
    )
    # the case's record stands in for a household screening never saw
    [snapshot] = await rows(db, HouseholdSnapshotRow)
    assert snapshot.source == "case"

    eliminated = case_decided(
        record,
        kind="elimination",
        case_id="E-1",
        at=dt.datetime(2025, 2, 10, 9, tzinfo=CHINA),
        elimination_mode="assisted",
    )
    rejected = case_decided(record, kind="elimination", outcome="rejected", case_id="E-0")
    for event in (rejected, eliminated):
        await committed(db, lambda uow, e=event: handlers.on_case_decided(uow, ctx, e))
    [row] = await rows(db, MonitoringRow)
    assert (row.status, row.eliminated_on, row.elimination_mode) == (
        "eliminated",
        dt.date(2025, 2, 10),
        "assisted",
    )


async def test_a_green_channel_household_whose_month_ends_leaves_monitoring(
    db: Database, ctx: ScreeningContext
) -> None:
    record = household("H0000007")
    entered = case_decided(record, outcome="green_channel", green_channel=True)
    expired = case_decided(
        record, outcome="green_channel_expired", green_channel=True, case_id="I-1x"
    )
    await committed(db, lambda uow: handlers.on_case_decided(uow, ctx, entered))
    [row] = await rows(db, MonitoringRow)
    assert (row.status, row.green_channel) == ("monitored", True)
    await committed(db, lambda uow: handlers.on_case_decided(uow, ctx, expired))
    [row] = await rows(db, MonitoringRow)
    assert row.status == "removed"


async def test_a_later_income_revision_replaces_the_period_and_an_older_one_is_ignored(
    db: Database, ctx: ScreeningContext
) -> None:
    record = household("H0000008")
    second = quarter_income(record, 2024, 2, 3000.0, revision=2)
    first = quarter_income(record, 2024, 2, 1000.0, revision=1)
    kept, _ = await committed(db, lambda uow: handlers.on_income_recorded(uow, ctx, second))
    older, _ = await committed(db, lambda uow: handlers.on_income_recorded(uow, ctx, first))
    assert (kept, older) == (True, False)
    [row] = await rows(db, IncomeRow)
    assert (row.per_capita, row.revision, row.period_end) == (3000.0, 2, dt.date(2024, 6, 30))


async def _monitored(
    db: Database, ctx: ScreeningContext, record: dict[str, object], risks: list[str]
) -> None:
    event = case_decided(record, risk_types=risks, at=dt.datetime(2023, 9, 1, tzinfo=CHINA))
    await committed(db, lambda uow: handlers.on_case_decided(uow, ctx, event))


async def _incomes(db: Database, ctx: ScreeningContext, *events: object) -> None:
    for event in events:
        await committed(db, lambda uow, e=event: handlers.on_income_recorded(uow, ctx, e))


async def _check(
    db: Database, ctx: ScreeningContext, household_id: str, as_of: dt.date
) -> handlers.EliminationOutcome:
    async with db.uow() as uow:
        return await handlers.elimination_check(uow, ctx, household_id, as_of)


async def test_elimination_is_eligible_after_half_a_year_above_the_threshold(
    db: Database, ctx: ScreeningContext
) -> None:
    record = household("H0000009", per_capita=10000.0)
    await _monitored(db, ctx, record, ["illness"])
    await _incomes(
        db, ctx, quarter_income(record, 2024, 1, 2500.0), quarter_income(record, 2024, 2, 2600.0)
    )
    outcome = await _check(db, ctx, "H0000009", dt.date(2024, 7, 15))
    assert outcome.status == "eligible"
    assert outcome.check is not None and outcome.check.mode == "natural"
    assert outcome.check.values["stable_months"] == 6
    # annual per-capita income at each quarter's end, from the quarters collected
    assert [(q.year, q.quarter, q.per_capita) for q in outcome.income] == [
        (2024, 1, 10000.0),
        (2024, 2, 10200.0),
    ]


async def test_elimination_not_yet_lists_every_failing_condition(
    db: Database, ctx: ScreeningContext
) -> None:
    ill = household("H0000010", per_capita=10000.0)
    ill["members"][0]["illness"] = "chronic"
    await _monitored(db, ctx, ill, ["illness"])
    await committed(db, lambda uow: handlers.on_clue_accepted(uow, ctx, clue_event("CL-10", ill)))
    await _incomes(db, ctx, quarter_income(ill, 2024, 2, 2600.0))
    outcome = await _check(db, ctx, "H0000010", dt.date(2024, 7, 15))
    assert outcome.status == "not_yet"
    assert outcome.check is not None
    assert outcome.check.failing == ("income_not_stable", "risks_remain")

    # a measure its department took on makes it an assisted elimination: the illness may stay
    for event in measure_events(ill, "M-1", "accepted"):
        await committed(db, lambda uow, e=event: handlers.on_measure_event(uow, ctx, e))
    outcome = await _check(db, ctx, "H0000010", dt.date(2024, 7, 15))
    assert outcome.measures_implemented == 1
    assert outcome.check is not None and outcome.check.mode == "assisted"
    assert outcome.check.failing == ("income_not_stable",)


async def test_a_no_labor_safety_net_household_is_held_not_eliminated(
    db: Database, ctx: ScreeningContext
) -> None:
    record = household("H0000011", per_capita=10000.0, safety_net="tekun")
    await _monitored(db, ctx, record, ["labor_shortage"])
    outcome = await _check(db, ctx, "H0000011", dt.date(2024, 7, 15))
    assert outcome.status == "held"
    assert outcome.check is not None and outcome.check.failing == ()


async def test_elimination_check_of_an_unknown_or_unmonitored_household_is_refused(
    db: Database, ctx: ScreeningContext
) -> None:
    with pytest.raises(NotMonitored, match=r"^household_id: H0000099 is not a monitored"):
        await _check(db, ctx, "H0000099", dt.date(2024, 7, 15))
    with pytest.raises(handlers.InvalidInput, match=r"^household_id: required"):
        await _check(db, ctx, "", dt.date(2024, 7, 15))
    unseen = case_decided(household("H0000098"), with_record=False)
    await committed(db, lambda uow: handlers.on_case_decided(uow, ctx, unseen))
    with pytest.raises(NotFound, match=r"^household_id: no household record of H0000098"):
        await _check(db, ctx, "H0000098", dt.date(2024, 7, 15))


async def test_an_eliminated_household_screened_in_scope_again_is_marked_for_roll_back(
    db: Database, ctx: ScreeningContext, clock: Clock
) -> None:
    record = household("H0000012", per_capita=10000.0)
    await _monitored(db, ctx, record, ["illness"])
    eliminated = case_decided(
        record,
        kind="elimination",
        case_id="E-12",
        at=dt.datetime(2024, 7, 20, 9, tzinfo=CHINA),
        elimination_mode="natural",
    )
    await committed(db, lambda uow: handlers.on_case_decided(uow, ctx, eliminated))
    await _incomes(db, ctx, quarter_income(record, 2024, 3, 1200.0))

    clock.advance(days=90)  # 2024-10-13: a medical-expense clue, income collapsed
    poor = household("H0000012", per_capita=4000.0)
    event = clue_event("CL-12", poor, registered_at=clock.now)
    row, emitted = await committed(db, lambda uow: handlers.on_clue_accepted(uow, ctx, event))
    payload = ScreeningDecided.model_validate(emitted[0][1].data)
    assert payload.rollback is True
    assert payload.rollback_reasons == ["income_below_threshold", "screened_in_scope"]
    assert row.rollback and row.rollback_check is not None
    assert row.rollback_check["values"]["quarters_below"] == ["2024Q3"]

    outcome = await _check(db, ctx, "H0000012", dt.date(2024, 10, 13))
    assert outcome.status == "eliminated"
    assert outcome.rollback is not None and outcome.rollback.rollback
