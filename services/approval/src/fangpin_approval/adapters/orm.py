"""Approval's tables: cases with their timeline and breaches, the register, the audit ledger."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Index, Text, text
from sqlmodel import Field

from fangpin_kit.db import JsonColumn, UtcDateTime
from fangpin_kit.orm import service_base

Base = service_base()
metadata = Base.metadata
MIGRATIONS = Path(__file__).parents[1] / "migrations"


class CaseRow(Base, table=True):
    """An identification (识别认定) or elimination (风险消除) case of one household.

    `version` is the optimistic lock: a save is `UPDATE ... WHERE version = <loaded>`. The
    parameters in force on the clue date are kept in `params`, so the case finishes under the
    rules it started with. Due dates are columns so the sweeps and listings can filter on them.
    """

    __tablename__ = "cases"
    __table_args__ = (
        # a village's (town's, county's) queue, oldest first, read in index order
        Index("ix_cases_village_queue", "village", "status", "opened_at", "case_id"),
        Index("ix_cases_opened", "opened_at", "case_id"),  # paging order of every list
        Index("ix_cases_town_queue", "town", "status", "opened_at", "case_id"),
        Index("ix_cases_county_queue", "county", "status", "opened_at", "case_id"),
        Index("ix_cases_household", "household_id", "kind", "status"),
        # at most one open case per household (identification and elimination exclude each
        # other in the register), also when two screening decisions race
        Index(
            "ux_cases_open_household",
            "household_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_cases_status_due", "status", "due_approval"),
        Index("ix_cases_green_due", "green_state", "due_green_channel"),
    )

    case_id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=16)
    household_id: str = Field(max_length=32)
    county: str = Field(max_length=6)
    town: str = Field(max_length=9)
    village: str = Field(max_length=12)
    step: str = Field(max_length=20)
    status: str = Field(max_length=12)
    version: int
    flow_version: str = Field(max_length=16)
    ruleset: str = Field(max_length=40)
    params: dict[str, Any] = Field(sa_column=Column(JsonColumn(), nullable=False))
    source: str = Field(default="", max_length=60)
    clue_on: date
    opened_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    category: str | None = Field(default=None, max_length=20)
    risk_types: list[str] = Field(
        default_factory=list, sa_column=Column(JsonColumn(), nullable=False)
    )
    exclusions: list[str] = Field(
        default_factory=list, sa_column=Column(JsonColumn(), nullable=False)
    )
    elimination_mode: str | None = Field(default=None, max_length=10)
    measures: list[str] = Field(
        default_factory=list, sa_column=Column(JsonColumn(), nullable=False)
    )
    special_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    notice_published_on: date | None = None
    verified_on: date | None = None
    green_state: str = Field(default="none", max_length=12)
    green_channel: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonColumn(), nullable=False)
    )
    system_entry_on: date | None = None
    decided_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    due_verification: date
    due_approval: date
    due_notice_last_day: date | None = None
    due_green_channel: date | None = None
    due_system_entry: date | None = None
    due_plan: date | None = None
    household: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JsonColumn(), nullable=True)
    )


class CaseActionRow(Base, table=True):
    """One entry of a case's timeline: a signed or system action (see domain CaseAction)."""

    __tablename__ = "case_actions"

    case_id: str = Field(primary_key=True, max_length=40)
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    action: str = Field(max_length=24)
    at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    step: str = Field(max_length=20)
    to_step: str = Field(max_length=20)
    actor: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JsonColumn(), nullable=True)
    )
    co_signers: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JsonColumn(), nullable=False)
    )
    comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    attachments: list[str] = Field(
        default_factory=list, sa_column=Column(JsonColumn(), nullable=False)
    )
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    details: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonColumn(), nullable=False)
    )


class BreachRow(Base, table=True):
    """A time limit breach already reported (case.overdue is emitted once per breach)."""

    __tablename__ = "case_breaches"

    case_id: str = Field(primary_key=True, max_length=40)
    breach_key: str = Field(primary_key=True, max_length=100)
    deadline: str = Field(max_length=20)
    due_on: date
    escalate_to: str = Field(max_length=12)
    detected_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class RegisterRow(Base, table=True):
    """A household in the register of monitored households (监测对象台账).

    `household` is the latest household record snapshot screening sent for it.
    """

    __tablename__ = "register"
    __table_args__ = (
        Index("ix_register_village_status", "village", "status"),
        Index("ix_register_updated", "updated_at", "household_id"),  # paging order
        Index("ix_register_town_status", "town", "status"),
        Index("ix_register_county_status", "county", "status"),
    )

    household_id: str = Field(primary_key=True, max_length=32)
    county: str = Field(max_length=6)
    town: str = Field(max_length=9)
    village: str = Field(max_length=12)
    status: str = Field(max_length=12)
    category: str | None = Field(default=None, max_length=20)
    risk_types: list[str] = Field(
        default_factory=list, sa_column=Column(JsonColumn(), nullable=False)
    )
    identified_on: date
    green_channel: bool = False
    eliminated_on: date | None = None
    elimination_mode: str | None = Field(default=None, max_length=10)
    held_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    household: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JsonColumn(), nullable=True)
    )
    version: int
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class RegisterChangeRow(Base, table=True):
    """One line of a household's register history."""

    __tablename__ = "register_history"

    household_id: str = Field(primary_key=True, max_length=32)
    n: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    on: date
    from_status: str | None = Field(default=None, max_length=12)
    to_status: str = Field(max_length=12)
    case_id: str | None = Field(default=None, max_length=40)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    actor_id: str | None = Field(default=None, max_length=64)


class LedgerEntryRow(Base, table=True):
    """An audit ledger entry; append-only (the migration installs triggers refusing changes).

    `record` is the canonical JSON text that was hashed, stored byte for byte.
    """

    __tablename__ = "audit_ledger"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    recorded_at: str = Field(max_length=40)
    record: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class LedgerHeadRow(Base, table=True):
    """The newest ledger entry's seq and hash: the anchor that reveals a cut tail, and the
    row every append locks so entries are chained one after another."""

    __tablename__ = "audit_ledger_head"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int
    hash: str = Field(max_length=64)
