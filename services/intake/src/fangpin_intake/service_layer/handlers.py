"""Intake's use cases: import a household, take a warning or declaration in, close a clue."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from fangpin_contracts.cloudevents import CloudEvent, new_event
from fangpin_contracts.events import ClueAccepted, Region, ScreeningDecided, Warning
from fangpin_contracts.household import RecordError, household_to_dict, validate_household
from fangpin_contracts.subjects import subject
from fangpin_intake.adapters.orm import HouseholdRow, WarningRow
from fangpin_intake.adapters.repository import (
    ClueRepository,
    HouseholdRepository,
    WarningRepository,
)
from fangpin_intake.domain.clues import Clue, ClueRules, WorkingDays, open_clue
from fangpin_intake.domain.warning_facts import WarningFacts, apply_warning
from fangpin_kit.bus import PermanentError
from fangpin_kit.clock import Clock, china_date
from fangpin_kit.db import UnitOfWork

ImportStatus = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class IntakeContext:
    """What the use cases need from outside: county, policy parameters, calendar, clock."""

    county: str
    clue_rules: Callable[[date], ClueRules]
    add_working_days: WorkingDays
    clock: Clock
    source: str = "fangpin/intake"


def record_digest(record: dict[str, Any]) -> str:
    canonical = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def validated_record(obj: Any, ctx: IntakeContext, path: str = "") -> dict[str, Any]:
    """The v1 record with defaults filled in; RecordError names the field otherwise."""
    if not isinstance(obj, dict):
        raise RecordError(path.rstrip("."), "expected a JSON object")
    try:
        record = household_to_dict(validate_household(obj))
    except RecordError as err:
        raise RecordError(
            f"{path}{err.path}" if err.path else path.rstrip("."), err.reason
        ) from err
    county = record["region"]["county"]
    if county != ctx.county:
        raise RecordError(
            f"{path}region.county", f"household of county {county}, this is county {ctx.county}"
        )
    return record


async def save_household(
    uow: UnitOfWork, ctx: IntakeContext, record: dict[str, Any]
) -> tuple[ImportStatus, HouseholdRow]:
    """Create or update a household of the registry from a validated record."""
    households = HouseholdRepository(uow.session)
    household_id = record["household_id"]
    ids = [m["id_number"] for m in record["members"]]
    if len(set(ids)) != len(ids):
        dup = next(i for i, x in enumerate(ids) if ids.index(x) != i)
        raise RecordError(f"members[{dup}].id_number", "listed twice in the household")
    digest = record_digest(record)
    now = ctx.clock()
    row = await households.get(household_id)
    if row is not None and row.digest == digest:
        return "unchanged", row
    same_members = row is not None and ids == [m["id_number"] for m in row.record["members"]]
    if not same_members:
        elsewhere = await households.members_elsewhere(household_id, ids)
        if elsewhere:
            idx = next(i for i, x in enumerate(ids) if x in elsewhere)
            raise RecordError(
                f"members[{idx}].id_number",
                f"already a member of household {elsewhere[ids[idx]]}",
            )
    status: ImportStatus = "created" if row is None else "updated"
    if row is None:
        row = HouseholdRow(
            household_id=household_id,
            county=record["region"]["county"],
            town=record["region"].get("town"),
            village=record["region"]["village"],
            formerly_poor=record.get("formerly_poor", False),
            record=record,
            digest=digest,
            version=1,
            updated_at=now,
        )
        households.add(row)
    else:
        row.town = record["region"].get("town")
        row.village = record["region"]["village"]
        row.formerly_poor = record.get("formerly_poor", False)
        row.record = record
        row.digest = digest
        row.version += 1
        row.updated_at = now
    if not same_members:
        await uow.session.flush()
        await households.replace_members(household_id, ids)
    return status, row


async def import_household(uow: UnitOfWork, ctx: IntakeContext, obj: Any) -> tuple[str, str]:
    """One import record; (household_id, status). Nothing is written for a bad record."""
    record = validated_record(obj, ctx)
    async with uow.session.begin_nested():
        status, _ = await save_household(uow, ctx, record)
    return record["household_id"], status


async def receive_warning(uow: UnitOfWork, ctx: IntakeContext, event: CloudEvent) -> Clue:
    """A department warning (部门预警): update the household's facts and register a clue."""
    warning = Warning.model_validate(event.data)
    households = HouseholdRepository(uow.session)
    row = await households.get(warning.household_id)
    if row is None:
        if warning.household is None:
            raise PermanentError(
                f"household_id: {warning.household_id} is not in the county registry and the "
                "warning carries no household record"
            )
        try:
            record = validated_record(warning.household, ctx, "household.")
            if record["household_id"] != warning.household_id:
                raise RecordError("household.household_id", "differs from the warning's")
            _, row = await save_household(uow, ctx, record)
        except RecordError as err:
            raise PermanentError(str(err)) from err
    if warning.id_number and warning.id_number not in {
        m["id_number"] for m in row.record["members"]
    }:
        raise PermanentError(f"id_number: not a member of household {warning.household_id}")

    facts = WarningFacts(
        kind=warning.kind,
        observed_at=warning.observed_at,
        amount=warning.amount,
        id_number=warning.id_number,
    )
    updated, changed = apply_warning(row.record, facts)
    if changed:
        try:
            _, row = await save_household(uow, ctx, validated_record(updated, ctx))
        except RecordError as err:
            raise PermanentError(f"applying the warning: {err}") from err
    clue = await register_clue(
        uow,
        ctx,
        row,
        kind=warning.kind,
        source="department_warning",
        dept=warning.dept,
        observed_at=warning.observed_at,
        warning_id=event.id,
    )
    WarningRepository(uow.session).add(
        WarningRow(
            event_id=event.id,
            dept=warning.dept,
            kind=warning.kind,
            household_id=warning.household_id,
            observed_at=warning.observed_at,
            received_at=ctx.clock(),
            clue_id=clue.clue_id,
            changed=changed,
        )
    )
    return clue


async def declare_risk(
    uow: UnitOfWork,
    ctx: IntakeContext,
    *,
    household_id: str,
    kind: str,
    source: str,
    observed_at: date,
) -> Clue:
    """A household's own declaration or a cadre's finding (自主申报 / 走访发现)."""
    row = await HouseholdRepository(uow.session).get(household_id)
    if row is None:
        raise RecordError("household_id", f"{household_id} is not in the county registry")
    return await register_clue(
        uow, ctx, row, kind=kind, source=source, dept=None, observed_at=observed_at, warning_id=None
    )


async def register_clue(
    uow: UnitOfWork,
    ctx: IntakeContext,
    household: HouseholdRow,
    *,
    kind: str,
    source: str,
    dept: str | None,
    observed_at: date,
    warning_id: str | None,
) -> Clue:
    """Merge into the open clue of the same household and kind, or open one and announce it."""
    clues = ClueRepository(uow.session)
    existing = await clues.open_clue(household.household_id, kind)
    if existing is not None:
        existing.merge(warning_id or f"{source}:{observed_at.isoformat()}", observed_at)
        await clues.save(existing)
        return existing
    now = ctx.clock()
    today = china_date(now)
    clue = open_clue(
        household_id=household.household_id,
        kind=kind,
        source=source,
        dept=dept,
        observed_at=observed_at,
        registered_at=now,
        registered_on=today,
        warning_id=warning_id,
        rules=ctx.clue_rules(today),
        add_working_days=ctx.add_working_days,
    )
    clues.add(clue)
    payload = ClueAccepted(
        clue_id=clue.clue_id,
        household_id=clue.household_id,
        region=Region(county=household.county, town=household.town, village=household.village),
        source=clue.source,
        dept=clue.dept,
        kind=clue.kind,
        observed_at=clue.observed_at,
        registered_at=clue.registered_at,
        verification_due=clue.verification_due,
        household=household.record,
    )
    uow.emit(
        subject(ctx.county, "clue", "accepted"),
        new_event(
            domain="clue",
            event="accepted",
            county=ctx.county,
            source=ctx.source,
            data=payload,
            subject=clue.household_id,
            event_id=f"{clue.clue_id}.accepted",
            time=now,
        ),
    )
    return clue


async def close_clue(uow: UnitOfWork, event: CloudEvent) -> None:
    """Screening decided on a clue: it is no longer open (a new warning opens a new clue)."""
    decided = ScreeningDecided.model_validate(event.data)
    if not decided.clue_id:
        return
    clues = ClueRepository(uow.session)
    clue = await clues.get(decided.clue_id)
    if clue is None:
        return
    outcome = "in_scope" if decided.decision.get("in_scope") else "not_in_scope"
    if clue.close(outcome):
        await clues.save(clue)
