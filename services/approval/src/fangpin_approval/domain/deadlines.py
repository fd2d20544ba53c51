"""Due dates of the procedure computed from the dated parameters and the working-day calendar."""

from __future__ import annotations

import calendar as _gregorian
import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum

from fangpin_approval.domain.parameters import DayKind, ProcedureParameters
from fangpin_kit.workdays import WorkdayCalendar

CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "CST")


class Deadline(StrEnum):
    """Time limits whose breach is reported as overdue (case.overdue)."""

    VERIFICATION = "verification"  # 入户核实 within N working days of the clue
    APPROVAL = "approval"  # clue to county approval
    SYSTEM_ENTRY = "system_entry"  # 录入全国系统 after approval


def local_date(at: dt.datetime) -> dt.date:
    """The date in China (UTC+8) of an aware timestamp; deadlines are counted in local dates."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"timestamp {at.isoformat()} has no time zone")
    return at.astimezone(CHINA_TZ).date()


def add_days(start: dt.date, n: int, kind: DayKind, calendar: WorkdayCalendar) -> dt.date:
    """`start` plus n calendar or working days."""
    if kind is DayKind.WORKING:
        return calendar.add_working_days(start, n)
    return start + dt.timedelta(days=n)


def add_months(start: dt.date, n: int) -> dt.date:
    """Same day n calendar months later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    month_index = start.month - 1 + n
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, _gregorian.monthrange(year, month)[1])
    return dt.date(year, month, day)


def verification_due(
    clue_on: dt.date, params: ProcedureParameters, calendar: WorkdayCalendar
) -> dt.date:
    """Last day for the household visit: N working days after the clue (5个工作日内到户核实)."""
    return calendar.add_working_days(clue_on, params.verification_working_days)


def approval_due(
    clue_on: dt.date, params: ProcedureParameters, calendar: WorkdayCalendar
) -> dt.date:
    """Last day for county approval, counted from the clue in the configured kind of days."""
    return add_days(clue_on, params.approval_limit, params.approval_limit_unit, calendar)


def notice_last_day(published_on: dt.date, params: ProcedureParameters) -> dt.date:
    """Last day of the public notice; the publication day is day 1 (公示不少于5天)."""
    return published_on + dt.timedelta(days=params.notice_min_days - 1)


def system_entry_due(approved_on: dt.date, params: ProcedureParameters) -> dt.date:
    """Last day for entry into the national system (批准后10天内录入)."""
    return approved_on + dt.timedelta(days=params.system_entry_days)


def plan_due(approved_on: dt.date, params: ProcedureParameters) -> dt.date:
    """Last day for the household assistance plan (一户一策, 10天内制定)."""
    return approved_on + dt.timedelta(days=params.plan_due_days)


def green_channel_until(entered_on: dt.date, params: ProcedureParameters) -> dt.date:
    """Last day a green-channel case may still complete the procedure (原则上1个月内)."""
    return add_months(entered_on, params.green_channel_months)


@dataclass(frozen=True)
class DueDates:
    """Every due date of a case; set ones are stored with the case and emitted in its events."""

    verification: dt.date
    approval: dt.date
    notice_last_day: dt.date | None = None
    green_channel: dt.date | None = None
    system_entry: dt.date | None = None
    plan: dt.date | None = None

    @classmethod
    def at_opening(
        cls, clue_on: dt.date, params: ProcedureParameters, calendar: WorkdayCalendar
    ) -> DueDates:
        """Due dates known when a case opens: verification and approval."""
        return cls(
            verification=verification_due(clue_on, params, calendar),
            approval=approval_due(clue_on, params, calendar),
        )

    def with_notice(self, published_on: dt.date, params: ProcedureParameters) -> DueDates:
        """Add the notice's last day."""
        return replace(self, notice_last_day=notice_last_day(published_on, params))

    def without_notice(self) -> DueDates:
        """Drop the notice (an objection sends the case back to verification)."""
        return replace(self, notice_last_day=None)

    def with_green_channel(self, entered_on: dt.date, params: ProcedureParameters) -> DueDates:
        """Add the green channel's last day."""
        return replace(self, green_channel=green_channel_until(entered_on, params))

    def with_approval(self, approved_on: dt.date, params: ProcedureParameters) -> DueDates:
        """Add the post-approval due dates (system entry, assistance plan)."""
        return replace(
            self,
            system_entry=system_entry_due(approved_on, params),
            plan=plan_due(approved_on, params),
        )

    def as_record(self) -> dict[str, str | None]:
        """ISO dates by name, for events and the ledger."""
        return {
            name: (value.isoformat() if value else None)
            for name, value in (
                ("verification", self.verification),
                ("approval", self.approval),
                ("notice_last_day", self.notice_last_day),
                ("green_channel", self.green_channel),
                ("system_entry", self.system_entry),
                ("plan", self.plan),
            )
        }
