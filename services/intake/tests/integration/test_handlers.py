"""Intake's use cases against a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from fangpin_contracts.cloudevents import CloudEvent, new_event
from fangpin_contracts.household import RecordError
from fangpin_intake.adapters.orm import MIGRATIONS, ClueRow, HouseholdRow, WarningRow, metadata
from fangpin_intake.domain.clues import ClueRules
from fangpin_intake.service_layer import handlers
from fangpin_intake.service_layer.handlers import IntakeContext
from fangpin_kit import migrations
from fangpin_kit.bus import PermanentError
from fangpin_kit.db import Database
from fangpin_kit.workdays import default_calendar
from intake_factories import COUNTY, household

NOW = datetime(2024, 6, 3, 2, 0, tzinfo=UTC)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    migrations.upgrade(MIGRATIONS, db_url)
    database = Database.connect(db_url, metadata)
    yield database
    await database.dispose()


@pytest.fixture
def ctx() -> IntakeContext:
    return IntakeContext(
        county=COUNTY,
        clue_rules=lambda _: ClueRules(verification_working_days=5),
        add_working_days=default_calendar().add_working_days,
        clock=lambda: NOW,
    )


def warning(n: int, household_id: str = "H00001", **data: object) -> CloudEvent:
    payload = {
        "dept": "medical_insurance",
        "kind": "high_medical_expense",
        "household_id": household_id,
        "observed_at": "2024-06-01",
        "amount": 26000,
        **data,
    }
    return new_event(
        domain="warning",
        event="medical_insurance",
        county=COUNTY,
        source="test",
        data=payload,
        event_id=f"w-{n}",
    )


async def rows(db: Database, table: type) -> list:  # type: ignore[type-arg]
    async with db.sessions() as s:
        return list((await s.execute(sa.select(table))).scalars())


async def test_import_creates_then_reports_unchanged_then_updated(
    db: Database, ctx: IntakeContext
) -> None:
    async with db.uow() as uow:
        assert await handlers.import_household(uow, ctx, household()) == ("H00001", "created")
        await uow.commit()
    async with db.uow() as uow:
        assert await handlers.import_household(uow, ctx, household()) == ("H00001", "unchanged")
        changed = household(income={"wage": 100})
        assert await handlers.import_household(uow, ctx, changed) == ("H00001", "updated")
        await uow.commit()
    [row] = await rows(db, HouseholdRow)
    assert row.version == 2
    assert row.record["income"]["wage"] == 100
    assert row.record["members"][0]["labor_capacity"] == "full"  # schema defaults filled


async def test_bad_record_is_rejected_with_its_field_and_writes_nothing(
    db: Database, ctx: IntakeContext
) -> None:
    bad = household("H00002")
    bad["members"][1]["id_number"] = bad["members"][1]["id_number"][:-1] + (
        "0" if bad["members"][1]["id_number"][-1] != "0" else "1"
    )
    async with db.uow() as uow:
        await handlers.import_household(uow, ctx, household("H00001"))
        with pytest.raises(RecordError) as err:
            await handlers.import_household(uow, ctx, bad)
        assert err.value.path == "members[1].id_number"
        with pytest.raises(RecordError, match=r"^region\.county: household of county 110101"):
            await handlers.import_household(uow, ctx, household("H00003", county="110101"))
        await uow.commit()
    assert [r.household_id for r in await rows(db, HouseholdRow)] == ["H00001"]


async def test_member_already_in_another_household_is_rejected(
    db: Database, ctx: IntakeContext
) -> None:
    first = household("H00001")
    second = household("H00002")
    second["members"][1]["id_number"] = first["members"][0]["id_number"]
    async with db.uow() as uow:
        await handlers.import_household(uow, ctx, first)
        with pytest.raises(RecordError, match=r"members\[1\]\.id_number: already a member of H?"):
            await handlers.import_household(uow, ctx, second)
        await uow.commit()


async def test_warning_opens_a_clue_and_a_repeat_merges_into_it(
    db: Database, ctx: IntakeContext
) -> None:
    async with db.uow() as uow:
        await handlers.import_household(uow, ctx, household())
        await uow.commit()
    async with db.uow() as uow:
        clue = await handlers.receive_warning(uow, ctx, warning(1))
        emitted = uow.emitted
        await uow.commit()
    assert [s for s, _ in emitted] == [f"fp.{COUNTY}.clue.accepted"]
    accepted = emitted[0][1]
    assert accepted.id == f"{clue.clue_id}.accepted"
    # Monday 2024-06-03 + 5 working days; Monday 06-10 is the Dragon Boat Festival holiday
    assert accepted.data["verification_due"] == "2024-06-11"
    assert accepted.data["household"]["expenses"]["medical_self_paid"] == 26000
    async with db.uow() as uow:
        again = await handlers.receive_warning(uow, ctx, warning(2, observed_at="2024-06-02"))
        assert uow.emitted == []
        await uow.commit()
    assert again.clue_id == clue.clue_id
    [row] = await rows(db, ClueRow)
    assert row.warnings == 2
    assert len(await rows(db, WarningRow)) == 2


async def test_warning_for_an_unknown_household_needs_a_record(
    db: Database, ctx: IntakeContext
) -> None:
    async with db.uow() as uow:
        with pytest.raises(PermanentError, match=r"^household_id: H00009 is not in the county"):
            await handlers.receive_warning(uow, ctx, warning(1, "H00009"))
    async with db.uow() as uow:
        clue = await handlers.receive_warning(
            uow, ctx, warning(2, "H00009", household=household("H00009"))
        )
        await uow.commit()
    assert clue.household_id == "H00009"
    assert [r.household_id for r in await rows(db, HouseholdRow)] == ["H00009"]


async def test_warning_naming_a_stranger_is_refused(db: Database, ctx: IntakeContext) -> None:
    async with db.uow() as uow:
        await handlers.import_household(uow, ctx, household())
        await uow.commit()
    async with db.uow() as uow:
        with pytest.raises(PermanentError, match=r"^id_number: not a member of household H00001"):
            await handlers.receive_warning(uow, ctx, warning(1, id_number="11010119900307663X"))


async def test_declared_risk_opens_a_clue(db: Database, ctx: IntakeContext) -> None:
    async with db.uow() as uow:
        await handlers.import_household(uow, ctx, household())
        clue = await handlers.declare_risk(
            uow,
            ctx,
            household_id="H00001",
            kind="accident",
            source="self_declaration",
            observed_at=date(2024, 6, 2),
        )
        await uow.commit()
    assert clue.source == "self_declaration"
    assert clue.dept is None
