"""Notify's tables: subscriptions, notices with their delivery state, deadlines, case progress."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field

from fangpin_kit.db import JsonColumn, UtcDateTime
from fangpin_kit.orm import service_base

Base = service_base()
metadata = Base.metadata
MIGRATIONS = Path(__file__).parents[1] / "migrations"


class SubscriptionRow(Base, table=True):
    """订阅: a recipient in a role for a region (and dept), reached through one endpoint.

    The id is derived from (recipient, role, region, dept, channel, address), so subscribing
    twice updates the one row; unsubscribing deactivates it and keeps it for the record.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_active_region", "active", "region"),)

    subscription_id: str = Field(primary_key=True, max_length=36)
    recipient_id: str = Field(max_length=120, index=True)
    role: str = Field(max_length=20)
    region: str = Field(max_length=12)
    dept: str = Field(default="", max_length=32)
    channel: str = Field(max_length=10)
    address: str = Field(default="", max_length=500)
    event_kinds: list[str] = Field(
        default_factory=list, sa_column=Column(JsonColumn(), nullable=False)
    )
    locale: str = Field(default="zh-CN", max_length=16)
    active: bool = True
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class NoticeRow(Base, table=True):
    """通知: one message to one recipient over one channel, with its delivery state.

    `dedupe_key` names the fact and the recipient (`<event id>|<recipient>` or a reminder's
    `<deadline>|<recipient>|<phase>`); with the channel it is unique, so a redelivered event
    or a re-run sweep never creates a second notice. `status` is a delivery state
    (pending, sending, retrying, delivered, failed, dead_lettered) or `held` (waiting for
    the daily digest) / `digested` (sent as part of the digest `digest_key`).
    """

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("dedupe_key", "channel", name="uq_notices_dedupe_key_channel"),
        Index("ix_notices_status_next", "status", "next_attempt_at"),
        Index("ix_notices_created", "created_at", "notice_id"),  # paging order
        Index("ix_notices_recipient_day", "recipient_id", "day"),
    )

    notice_id: str = Field(primary_key=True, max_length=36)
    dedupe_key: str = Field(max_length=300, index=True)
    kind: str = Field(max_length=32)
    phase: str | None = Field(default=None, max_length=12)
    recipient_id: str = Field(max_length=120)
    channel: str = Field(max_length=10)
    address: str = Field(default="", max_length=500)
    subject: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    locale: str = Field(max_length=16)
    household_id: str | None = Field(default=None, max_length=32, index=True)
    source_event: str | None = Field(default=None, max_length=100, index=True)
    deadline_key: str | None = Field(default=None, max_length=200, index=True)
    urgent: bool = False
    day: date
    status: str = Field(max_length=16)
    digest_key: str | None = Field(default=None, max_length=300)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    provider_ref: str | None = Field(default=None, max_length=300)
    history: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JsonColumn(), nullable=False)
    )
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class DeadlineRow(Base, table=True):
    """办理时限: a due date derived from an event, swept for reminders until it closes.

    `mode` is `reminders` (before / on the day / escalation, domain.reminders) or `on_expiry`
    (one message once the date has passed, e.g. the end of a public notice). `ref` names
    what the deadline belongs to (`case:<id>`, `clue:<id>`, `task:<id>`) so the event that
    settles it can close it. `roles` are addressed by the reminders, `escalation_roles` in
    addition by the escalation; `context` holds the template fields (personal data masked).
    """

    __tablename__ = "deadlines"
    __table_args__ = (Index("ix_deadlines_status_due", "status", "due"),)

    key: str = Field(primary_key=True, max_length=200)
    ref: str = Field(max_length=120, index=True)
    mode: str = Field(max_length=10)
    kind: str = Field(max_length=32)
    escalation_kind: str | None = Field(default=None, max_length=32)
    due: date
    region: str = Field(max_length=12)
    household_id: str | None = Field(default=None, max_length=32, index=True)
    dept: str | None = Field(default=None, max_length=32)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JsonColumn(), nullable=False))
    escalation_roles: list[str] = Field(
        default_factory=list, sa_column=Column(JsonColumn(), nullable=False)
    )
    contact_cadres: list[str] = Field(
        default_factory=list, sa_column=Column(JsonColumn(), nullable=False)
    )
    context: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonColumn(), nullable=False)
    )
    status: str = Field(default="open", max_length=8)
    closed_reason: str | None = Field(default=None, max_length=200)
    source_event: str = Field(max_length=100)
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))


class CaseProgressRow(Base, table=True):
    """Where notify last saw a case, so a late, older event cannot reopen a settled step."""

    __tablename__ = "case_progress"

    case_id: str = Field(primary_key=True, max_length=64)
    household_id: str = Field(max_length=32)
    step: str = Field(max_length=32)
    status: str = Field(max_length=32)
    decided: bool = False
    last_event_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    last_event_id: str = Field(max_length=100)


class MeasureDispatchRow(Base, table=True):
    """A measure dispatch seen on the bus, so its overdue escalation can say what it was."""

    __tablename__ = "measure_dispatches"

    dispatch_id: str = Field(primary_key=True, max_length=100)
    measure_id: str = Field(max_length=64, index=True)
    plan_id: str = Field(max_length=64)
    household_id: str = Field(max_length=32)
    region: str = Field(max_length=12)
    type: str = Field(max_length=32)
    sub_measure: str | None = Field(default=None, max_length=64)
    dept: str = Field(max_length=32)
    attempt: int = 1
    reply_due: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    context: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonColumn(), nullable=False)
    )
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class DigestDayRow(Base, table=True):
    """A day whose morning batch (reminders and the daily digest of held notices) has run."""

    __tablename__ = "digest_days"

    day: date = Field(primary_key=True)
    ran_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
