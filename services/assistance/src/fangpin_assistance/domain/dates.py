"""Calendar arithmetic the follow-up and term rules share."""

import calendar
from datetime import date


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (Jan 31 + 1 = Feb 28/29)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_start(day: date, months: int) -> date:
    """First day of the `months`-long period, aligned with 1 January, that contains `day`."""
    month = (day.month - 1) // months * months + 1
    return date(day.year, month, 1)
