"""Assistance's tables: plans, measures, contact cadres, replies, visits, incomes and tasks."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field

from fangpin_kit.db import JsonColumn, UtcDateTime
from fangpin_kit.orm import service_base

Base = service_base()
metadata = Base.metadata
MIGRATIONS = Path(__file__).parents[1] / "migrations"

_PLAN_VERSION = Column("version", Integer, nullable=False)


class PlanRow(Base, table=True):
    """一户一策: the plan aggregate's own state; `version` guards concurrent writers.

    `live_household_id` equals `household_id` while the plan is not stopped and is NULL
    afterwards: its unique constraint is the "one plan per household" rule, and a household
    whose assistance was stopped (left the green channel) can get a new plan later.
    """

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("live_household_id", name="uq_plans_live_household"),)
    __mapper_args__ = {"version_id_col": _PLAN_VERSION}  # noqa: RUF012

    plan_id: str = Field(primary_key=True, max_length=48)
    household_id: str = Field(max_length=32, index=True)
    live_household_id: str | None = Field(default=None, max_length=32)
    case_id: str | None = Field(default=None, max_length=64, index=True)
    county: str = Field(max_length=6)
    town: str | None = Field(default=None, max_length=9)
    village: str = Field(max_length=12, index=True)
    status: str = Field(max_length=10, index=True)
    green_channel: bool = False
    household: dict[str, Any] = Field(sa_column=Column(JsonColumn(), nullable=False))
    record: dict[str, Any] = Field(sa_column=Column(JsonColumn(), nullable=False))
    identified_on: date
    due_on: date
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    confirmed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    confirmed_by: str | None = Field(default=None, max_length=64)
    waivers: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonColumn(), nullable=False)
    )
    risk_eliminated_on: date | None = None
    situation_since: date
    stopped_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    stop_reason: str | None = Field(default=None, max_length=200)
    measure_sequence: int = 0
    followup_checked_on: date | None = None
    version: int = Field(sa_column=_PLAN_VERSION)


class MeasureRow(Base, table=True):
    """One measure of a plan with its dispatch state; `sub_measure` is the catalog snapshot."""

    __tablename__ = "measures"
    __table_args__ = (
        Index("ix_measures_department_status", "department", "status"),
        Index("ix_measures_status_reply_due", "status", "reply_due_at"),
    )

    measure_id: str = Field(primary_key=True, max_length=56)
    plan_id: str = Field(max_length=48, index=True)
    household_id: str = Field(max_length=32, index=True)
    position: int
    measure_key: str = Field(max_length=80)
    department: str = Field(max_length=32)
    status: str = Field(max_length=12)
    sub_measure: dict[str, Any] = Field(sa_column=Column(JsonColumn(), nullable=False))
    beneficiary: str | None = Field(default=None, max_length=32)
    basis: list[str] = Field(default_factory=list, sa_column=Column(JsonColumn(), nullable=False))
    school_stage_ends_on: date | None = None
    attempts: int = 0
    first_dispatched_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    last_dispatched_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    reply_due_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    escalated_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    started_on: date | None = None
    implemented_on: date | None = None
    closed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    reported_term_end: date | None = None
    continues_until: date | None = None
    ends_on: date | None = Field(default=None, index=True)
    close_reason: str | None = Field(default=None, sa_column=Column(Text))
    replaces: str | None = Field(default=None, max_length=56)
    replaced_by: str | None = Field(default=None, max_length=56)
    seen_reply_ids: list[str] = Field(
        default_factory=list, sa_column=Column(JsonColumn(), nullable=False)
    )


class ContactCadreRow(Base, table=True):
    """A contact cadre (帮扶联系人) of a household's plan, in assignment order."""

    __tablename__ = "contact_cadres"

    plan_id: str = Field(primary_key=True, max_length=48)
    cadre_id: str = Field(primary_key=True, max_length=64, index=True)
    household_id: str = Field(max_length=32, index=True)
    position: int
    assigned_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class RosterRow(Base, table=True):
    """A cadre on duty for a region (village 12, town 9 or county 6 digits): new plans of
    households there get the most specific region's cadres as contact cadres."""

    __tablename__ = "cadre_roster"

    region: str = Field(primary_key=True, max_length=12)
    cadre_id: str = Field(primary_key=True, max_length=64)
    assigned_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    assigned_by: str | None = Field(default=None, max_length=64)


class ReplyRow(Base, table=True):
    """Every department reply handled, applied or not: the reply log (答复记录)."""

    __tablename__ = "replies"

    id: int | None = Field(default=None, primary_key=True)
    reply_id: str = Field(max_length=100, index=True)
    measure_id: str = Field(max_length=100, index=True)
    dispatch_id: str | None = Field(default=None, max_length=100)
    plan_id: str | None = Field(default=None, max_length=48)
    household_id: str | None = Field(default=None, max_length=32)
    department: str = Field(max_length=32)
    kind: str = Field(max_length=10)
    outcome: str = Field(max_length=10, index=True)
    ignored_because: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    note: str | None = Field(default=None, sa_column=Column(Text))
    sent_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    received_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class HistoryRow(Base, table=True):
    """What happened to a plan and its measures, in order (status changes, adjustments...)."""

    __tablename__ = "plan_history"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(max_length=48, index=True)
    household_id: str = Field(max_length=32)
    measure_id: str | None = Field(default=None, max_length=56, index=True)
    kind: str = Field(max_length=40)
    reply_id: str | None = Field(default=None, max_length=100)
    case_id: str | None = Field(default=None, max_length=64, index=True)
    at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    details: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonColumn(), nullable=False)
    )


class ReplacementRow(Base, table=True):
    """A rejected measure asks for a replacement: the service's proposal, open until replaced."""

    __tablename__ = "replacements"

    measure_id: str = Field(primary_key=True, max_length=56)
    plan_id: str = Field(max_length=48, index=True)
    household_id: str = Field(max_length=32)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    proposed_key: str | None = Field(default=None, max_length=80)
    beneficiary: str | None = Field(default=None, max_length=32)
    basis: list[str] = Field(default_factory=list, sa_column=Column(JsonColumn(), nullable=False))
    status: str = Field(max_length=10)
    replaced_by: str | None = Field(default=None, max_length=56)
    proposed_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))


class VisitRow(Base, table=True):
    """A recorded visit (走访) of a contact cadre."""

    __tablename__ = "visits"
    __table_args__ = (Index("ix_visits_household_day", "household_id", "visited_on"),)

    id: int | None = Field(default=None, primary_key=True)
    household_id: str = Field(max_length=32)
    plan_id: str = Field(max_length=48)
    visited_on: date
    cadre_id: str = Field(max_length=64)
    mode: str = Field(max_length=10)
    note: str | None = Field(default=None, sa_column=Column(Text))
    recorded_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class IncomeRow(Base, table=True):
    """Income collected for one period (收入采集); a correction raises the revision."""

    __tablename__ = "incomes"

    household_id: str = Field(primary_key=True, max_length=32)
    period_start: date = Field(primary_key=True)
    period_end: date
    plan_id: str = Field(max_length=48)
    members: int
    wage: float
    business: float
    property: float
    transfer: float
    production_costs: float
    net: float
    method: str = Field(max_length=10)
    collected_by: str = Field(max_length=64)
    revision: int = 1
    recorded_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class TaskRow(Base, table=True):
    """A follow-up duty announced on `task.due` once (its id is stable), open until done."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_status_due", "status", "due_on"),)

    task_id: str = Field(primary_key=True, max_length=100)
    kind: str = Field(max_length=24)
    household_id: str = Field(max_length=32, index=True)
    plan_id: str = Field(max_length=48, index=True)
    due_on: date
    status: str = Field(max_length=10)
    assignees: list[str] = Field(
        default_factory=list, sa_column=Column(JsonColumn(), nullable=False)
    )
    period_start: date | None = None
    period_end: date | None = None
    details: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonColumn(), nullable=False)
    )
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    close_reason: str | None = Field(default=None, max_length=64)
