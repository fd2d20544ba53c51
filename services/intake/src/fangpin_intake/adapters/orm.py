"""Intake's tables: the household registry, received warnings and risk clues."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Index
from sqlmodel import Field

from fangpin_kit.db import JsonColumn, UtcDateTime
from fangpin_kit.orm import service_base

Base = service_base()
metadata = Base.metadata
MIGRATIONS = Path(__file__).parents[1] / "migrations"


class HouseholdRow(Base, table=True):
    """A household of the registry (户): the latest v1 record and where it is."""

    __tablename__ = "households"

    household_id: str = Field(primary_key=True, max_length=32)
    county: str = Field(max_length=6)
    town: str | None = Field(default=None, max_length=9)
    village: str = Field(max_length=12, index=True)
    formerly_poor: bool = False
    record: dict[str, Any] = Field(sa_column=Column(JsonColumn(), nullable=False))
    digest: str = Field(max_length=64)
    version: int = 1
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class MemberRow(Base, table=True):
    """Resident ID numbers of household members, for matching warnings to households."""

    __tablename__ = "household_members"

    id_number: str = Field(primary_key=True, max_length=18)
    household_id: str = Field(max_length=32, index=True)


class WarningRow(Base, table=True):
    """Every department warning received (部门预警), whatever became of it."""

    __tablename__ = "warnings"

    event_id: str = Field(primary_key=True, max_length=100)
    dept: str = Field(max_length=32)
    kind: str = Field(max_length=32)
    household_id: str = Field(max_length=32, index=True)
    observed_at: date
    received_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    clue_id: str | None = Field(default=None, max_length=40)
    changed: list[str] = Field(default_factory=list, sa_column=Column(JsonColumn(), nullable=False))


class ClueRow(Base, table=True):
    """A risk clue (风险线索)."""

    __tablename__ = "clues"
    __table_args__ = (
        Index("ix_clues_household_kind_status", "household_id", "kind", "status"),
        Index("ix_clues_registered", "registered_at", "clue_id"),  # paging order
    )

    clue_id: str = Field(primary_key=True, max_length=40)
    household_id: str = Field(max_length=32)
    kind: str = Field(max_length=32)
    source: str = Field(max_length=32)
    dept: str | None = Field(default=None, max_length=32)
    status: str = Field(max_length=10)
    observed_at: date
    registered_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    verification_due: date
    warnings: int = 1
    outcome: str | None = Field(default=None, max_length=32)
    warning_ids: list[str] = Field(
        default_factory=list, sa_column=Column(JsonColumn(), nullable=False)
    )
