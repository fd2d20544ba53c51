"""Loading and saving intake's aggregates through the unit of work's session."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from fangpin_intake.adapters.orm import ClueRow, HouseholdRow, MemberRow, WarningRow
from fangpin_intake.domain.clues import Clue
from fangpin_kit.paging import Keyset, Page, PageRequest

# Clues by registration time, newest first unless asked otherwise; the id breaks ties.
CLUE_KEYSET = Keyset("intake.clues", ClueRow.registered_at, ClueRow.clue_id)


class HouseholdRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, household_id: str) -> HouseholdRow | None:
        return await self.session.get(HouseholdRow, household_id)

    async def household_of_member(self, id_number: str) -> str | None:
        row = await self.session.get(MemberRow, id_number)
        return row.household_id if row else None

    async def members_elsewhere(self, household_id: str, id_numbers: list[str]) -> dict[str, str]:
        """id_number -> other household for the members already registered in another one."""
        if not id_numbers:
            return {}
        rows = await self.session.execute(
            sa.select(MemberRow.id_number, MemberRow.household_id).where(
                MemberRow.id_number.in_(id_numbers), MemberRow.household_id != household_id
            )
        )
        return {r.id_number: r.household_id for r in rows}

    def add(self, row: HouseholdRow) -> None:
        self.session.add(row)

    async def page(self, *, after: str, region_prefix: str, limit: int) -> list[HouseholdRow]:
        """Households in id order after `after`, within a county/town/village code prefix."""
        query = sa.select(HouseholdRow).order_by(HouseholdRow.household_id).limit(limit)
        if after:
            query = query.where(HouseholdRow.household_id > after)
        if region_prefix:
            query = query.where(HouseholdRow.village.startswith(region_prefix))
        return list((await self.session.execute(query)).scalars())

    async def replace_members(self, household_id: str, id_numbers: list[str]) -> None:
        await self.session.execute(
            sa.delete(MemberRow).where(MemberRow.household_id == household_id)
        )
        self.session.add_all(MemberRow(id_number=i, household_id=household_id) for i in id_numbers)


class ClueRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open_clue(self, household_id: str, kind: str) -> Clue | None:
        row = (
            await self.session.execute(
                sa.select(ClueRow).where(
                    ClueRow.household_id == household_id,
                    ClueRow.kind == kind,
                    ClueRow.status == "open",
                )
            )
        ).scalar_one_or_none()
        return _to_clue(row) if row else None

    async def get(self, clue_id: str) -> Clue | None:
        row = await self.session.get(ClueRow, clue_id)
        return _to_clue(row) if row else None

    def add(self, clue: Clue) -> None:
        self.session.add(ClueRow(**_clue_fields(clue)))

    async def save(self, clue: Clue) -> None:
        """Store changes of a clue loaded through this repository (no extra read)."""
        await self.session.merge(ClueRow(**_clue_fields(clue)))

    async def list(self, page: PageRequest, household_id: str = "", status: str = "") -> Page[Clue]:
        """One page of clues in CLUE_KEYSET order."""
        query = sa.select(ClueRow)
        if household_id:
            query = query.where(ClueRow.household_id == household_id)
        if status:
            query = query.where(ClueRow.status == status)
        rows = list((await self.session.execute(CLUE_KEYSET.apply(query, page))).scalars())
        found = CLUE_KEYSET.page(rows, page)
        return Page([_to_clue(r) for r in found.rows], found.next_page_token)


class WarningRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: WarningRow) -> None:
        self.session.add(row)


async def counts(session: AsyncSession) -> dict[str, int]:
    """What the registry holds, for operators."""
    out: dict[str, int] = {}
    for name, query in {
        "households": sa.select(sa.func.count()).select_from(HouseholdRow),
        "warnings": sa.select(sa.func.count()).select_from(WarningRow),
        "clues": sa.select(sa.func.count()).select_from(ClueRow),
        "clues_open": sa.select(sa.func.count())
        .select_from(ClueRow)
        .where(ClueRow.status == "open"),
    }.items():
        out[name] = int((await session.execute(query)).scalar_one())
    return out


def _clue_fields(clue: Clue) -> dict[str, Any]:
    return {
        "clue_id": clue.clue_id,
        "household_id": clue.household_id,
        "kind": clue.kind,
        "source": clue.source,
        "dept": clue.dept,
        "status": clue.status,
        "observed_at": clue.observed_at,
        "registered_at": clue.registered_at,
        "verification_due": clue.verification_due,
        "warnings": clue.warnings,
        "outcome": clue.outcome,
        "warning_ids": list(clue.warning_ids),
    }


def _to_clue(row: ClueRow) -> Clue:
    return Clue(
        clue_id=row.clue_id,
        household_id=row.household_id,
        kind=row.kind,
        source=row.source,
        dept=row.dept,
        observed_at=row.observed_at,
        registered_at=row.registered_at,
        verification_due=row.verification_due,
        status=row.status,  # type: ignore[arg-type]
        warnings=row.warnings,
        outcome=row.outcome,
        warning_ids=list(row.warning_ids),
    )
