"""Time as the counties live it: instants are UTC, dates are China Standard Time (Asia/Shanghai).

Where "now" comes from (see docs/ARCHITECTURE.md, "How time flows"):

- a service reads the time only through its clock (`ServiceSettings.clock`, which honours
  `FANGPIN_CLOCK_OFFSET_SECONDS`, or a clock a test passes in);
- the CLI's "today" is `china_today()`: the date in China, not the machine's local date;
- tests never read the machine's date: they start from an instant they name, with a
  `ManualClock` (moved by hand), a `RunningClock` (runs at real speed from the named instant)
  or, for separate processes, the offset `offset_to(named instant)`.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The machine's clock (UTC). Production code reads it only through a service clock."""
    return datetime.now(UTC)


def china_date(instant: datetime) -> date:
    """The calendar date in China at `instant` (a clue at 17:00 UTC is already the next day)."""
    return instant.astimezone(CHINA).date()


def china_today(clock: Clock = utc_now) -> date:
    """Today's date in China by `clock` (the CLI's default decision date)."""
    return china_date(clock())


def in_china(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """`hour:minute` o'clock in China on `day`, as a UTC instant."""
    return datetime.combine(day, time_of_day(hour, minute), tzinfo=CHINA).astimezone(UTC)


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError(f"clock instant {instant!r} has no time zone")
    return instant.astimezone(UTC)


class ManualClock:
    """A clock moved by hand (tests, drills); it never reads the machine's clock."""

    def __init__(self, now: datetime) -> None:
        self.now = _aware(now)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move forward by `timedelta(**delta)` (days=, hours=, minutes=, seconds=)."""
        self.now += timedelta(**delta)
        return self.now

    def set(self, instant: datetime) -> datetime:
        self.now = _aware(instant)
        return self.now

    def set_day(self, day: date, hour: int = 10) -> datetime:
        """`hour` o'clock in China on `day`."""
        return self.set(in_china(day, hour))


class RunningClock:
    """Starts at a named instant and runs at real speed, whatever the machine's date says.

    For in-process services whose waits are real (retry back-off, sweeps) but whose dates
    must be the test's: elapsed time comes from the monotonic clock, never the calendar.
    """

    def __init__(self, start: datetime) -> None:
        self.start = _aware(start)
        self._origin = _time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=_time.monotonic() - self._origin)


def offset_to(instant: datetime, now: Clock = utc_now) -> float:
    """Seconds to add to the machine's clock so that it reads `instant` now.

    For services started as separate processes (`FANGPIN_CLOCK_OFFSET_SECONDS`): every process
    given the same offset shares one clock that starts at the named instant. The machine's
    clock is read only to cancel it out.
    """
    return (_aware(instant) - now()).total_seconds()
