"""Time as the counties live it: instants are UTC, dates are China Standard Time (Asia/Shanghai)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def china_date(instant: datetime) -> date:
    """The calendar date in China at `instant` (a clue at 01:00 UTC is already the next day)."""
    return instant.astimezone(CHINA).date()
