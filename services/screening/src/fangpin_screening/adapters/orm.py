"""Screening's tables: decisions with their trace, household snapshots, monitoring, income,
measures, clue kinds, county re-screen runs and scale-risk alerts."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field

from fangpin_kit.db import JsonColumn, UtcDateTime
from fangpin_kit.orm import service_base

Base = service_base()
metadata = Base.metadata
MIGRATIONS = Path(__file__).parents[1] / "migrations"


class DecisionRow(Base, table=True):
    """One screening decision (识别研判结论) of a household: CONTRACT section 3 with its trace."""

    __tablename__ = "decisions"
    __table_args__ = (
        # the latest decision of a household: its rows by time, newest last
        Index("ix_decisions_household_latest", "household_id", "decided_at"),
        Index("ix_decisions_decided", "decided_at", "decision_id"),  # paging order
    )

    decision_id: str = Field(primary_key=True, max_length=40)
    household_id: str = Field(max_length=32)
    village: str = Field(max_length=12)
    clue_id: str | None = Field(default=None, max_length=64)
    run_id: str | None = Field(default=None, max_length=40)
    reason: str = Field(max_length=10)  # clue | rescreen | request
    as_of: date
    ruleset: str = Field(max_length=40)
    in_scope: bool
    eligible: bool
    category: str | None = Field(default=None, max_length=20)
    # the compared fields as canonical text (domain.rescreen.outcome_key)
    outcome_key: str = Field(max_length=1000)
    rollback: bool = False
    rollback_check: dict[str, Any] | None = Field(default=None, sa_column=Column(JsonColumn()))
    decision: dict[str, Any] = Field(sa_column=Column(JsonColumn(), nullable=False))
    decided_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class HouseholdSnapshotRow(Base, table=True):
    """The latest household record (v1) screening saw, from a clue, a re-screen or a case."""

    __tablename__ = "households"

    household_id: str = Field(primary_key=True, max_length=32)
    village: str = Field(max_length=12, index=True)
    record: dict[str, Any] = Field(sa_column=Column(JsonColumn(), nullable=False))
    digest: str = Field(max_length=64)
    per_capita: float
    source: str = Field(max_length=10)  # clue | rescreen | case
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class MonitoringRow(Base, table=True):
    """Whether a household is monitored (监测对象), from approval's `case.decided` events."""

    __tablename__ = "monitoring"

    household_id: str = Field(primary_key=True, max_length=32)
    village: str = Field(max_length=12, index=True)
    status: str = Field(max_length=12)  # monitored | held | eliminated | removed
    since: date
    case_id: str = Field(max_length=40)
    category: str | None = Field(default=None, max_length=20)
    risk_types: list[str] = Field(
        default_factory=list, sa_column=Column(JsonColumn(), nullable=False)
    )
    green_channel: bool = False
    eliminated_on: date | None = None
    elimination_mode: str | None = Field(default=None, max_length=12)
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class IncomeRow(Base, table=True):
    """Income of one collection period (收入采集) of a monitored household, latest revision."""

    __tablename__ = "income_records"

    household_id: str = Field(primary_key=True, max_length=32)
    period_start: date = Field(primary_key=True)
    period_end: date
    members: int
    net: float
    per_capita: float
    revision: int
    plan_id: str = Field(max_length=40)
    collected_by: str = Field(max_length=64)
    recorded_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    event_id: str = Field(max_length=100)


class MeasureRow(Base, table=True):
    """An assistance measure of a household and how far its department took it."""

    __tablename__ = "measures"

    measure_id: str = Field(primary_key=True, max_length=64)
    household_id: str | None = Field(default=None, max_length=32, index=True)
    dept: str = Field(max_length=32)
    status: str = Field(max_length=12)  # dispatched | accepted | completed | rejected
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class ClueRecordRow(Base, table=True):
    """A risk clue's kind, village and date, for warning clusters (规模性返贫风险)."""

    __tablename__ = "clue_kinds"
    __table_args__ = (
        Index("ix_clue_kinds_village_kind_observed", "village", "kind", "observed_at"),
    )

    clue_id: str = Field(primary_key=True, max_length=64)
    household_id: str = Field(max_length=32)
    village: str = Field(max_length=12)
    kind: str = Field(max_length=32)
    source: str = Field(max_length=32)
    observed_at: date
    registered_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class RescreenRunRow(Base, table=True):
    """A county-wide re-screen (全县重新研判) and how far it got."""

    __tablename__ = "rescreen_runs"

    run_id: str = Field(primary_key=True, max_length=40)
    ruleset: str = Field(max_length=40)
    as_of: date
    trigger: str = Field(max_length=10)  # schedule | request | baseline (first start)
    status: str = Field(max_length=10, index=True)  # running | done | failed
    total: int = 0
    done: int = 0
    changed: int = 0
    rejected: int = 0
    # registry position: the run resumes after this household id
    last_household_id: str = Field(default="", max_length=32)
    started_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    heartbeat_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    error: str | None = Field(default=None, max_length=500)


class LeaseRow(Base, table=True):
    """A job lease: one replica at a time runs the county re-screen."""

    __tablename__ = "leases"

    name: str = Field(primary_key=True, max_length=40)
    holder: str = Field(max_length=40)
    expires_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class ScaleAlertRow(Base, table=True):
    """A scale-risk alert sent (规模性返贫风险预警): one per village, indicator and window."""

    __tablename__ = "scale_risk_alerts"
    __table_args__ = (
        UniqueConstraint(
            "village", "indicator", "warning_kind", "window_start", name="uq_scale_risk_window"
        ),
    )

    alert_id: str = Field(primary_key=True, max_length=100)
    village: str = Field(max_length=12, index=True)
    indicator: str = Field(max_length=20)
    warning_kind: str = Field(default="", max_length=32)  # warning clusters only
    window_start: date
    opened_on: date
    cleared_on: date | None = None  # the condition no longer held on this day
    value: float
    limit: float
    ruleset: str = Field(max_length=40)
    details: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonColumn(), nullable=False)
    )
    sent_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
