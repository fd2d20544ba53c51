"""Working-day calendar over the official Chinese holiday schedule, with a Mon-Fri fallback."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import chinese_calendar
import structlog
import yaml


@dataclass(frozen=True)
class CalendarOverrides:
    """Days a county knows before the `chinesecalendar` release does (调休 published late).

    `holidays` are extra days off, `workdays` extra working days (make-up days, 调休上班).
    `complete_years` declares that, for those years, the overrides are the whole official
    schedule: Mon-Fri plus the listed changes is then authoritative and no fallback warning
    is logged. Overrides win over the library for any date they list.
    """

    holidays: AbstractSet[dt.date] = frozenset()
    workdays: AbstractSet[dt.date] = frozenset()
    complete_years: AbstractSet[int] = frozenset()

    def __post_init__(self) -> None:
        # accept any iterable (plain sets from callers) and store immutable sets
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        object.__setattr__(self, "complete_years", frozenset(self.complete_years))
        both = self.holidays & self.workdays
        if both:
            listed = ", ".join(sorted(d.isoformat() for d in both))
            raise ValueError(f"calendar overrides list {listed} both as holiday and workday")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CalendarOverrides:
        """Build from `{holidays: [...], workdays: [...], complete_years: [...]}`.

        Dates are ISO strings or `date` objects (YAML parses unquoted dates itself).
        """
        unknown = set(data) - {"holidays", "workdays", "complete_years"}
        if unknown:
            raise ValueError(f"calendar overrides: unknown keys {sorted(unknown)}")
        return cls(
            holidays=frozenset(_dates(data.get("holidays") or (), "holidays")),
            workdays=frozenset(_dates(data.get("workdays") or (), "workdays")),
            complete_years=frozenset(int(y) for y in data.get("complete_years") or ()),
        )

    def merged(self, other: CalendarOverrides) -> CalendarOverrides:
        """Both files' days; a date one lists as holiday and the other as workday is an error."""
        return CalendarOverrides(
            holidays=self.holidays | other.holidays,
            workdays=self.workdays | other.workdays,
            complete_years=self.complete_years | other.complete_years,
        )

    @classmethod
    def from_yaml(cls, path: Path) -> CalendarOverrides:
        """Load the override file a county maintains (see `from_mapping` for the shape)."""
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, Mapping):
            raise ValueError(f"{path}: calendar overrides must be a mapping")
        try:
            return cls.from_mapping(loaded)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc


def _dates(values: Iterable[Any], key: str) -> Iterable[dt.date]:
    for value in values:
        if isinstance(value, dt.datetime):
            raise ValueError(f"{key}: {value!r} is a datetime, expected a date")
        if isinstance(value, dt.date):
            yield value
        elif isinstance(value, str):
            try:
                yield dt.date.fromisoformat(value)
            except ValueError as exc:
                raise ValueError(f"{key}: {value!r} is not an ISO date") from exc
        else:
            raise ValueError(f"{key}: {value!r} is not a date")


@dataclass
class WorkdayCalendar:
    """Official working days (工作日): weekends, public holidays and make-up Saturdays/Sundays.

    A year the installed `chinesecalendar` does not know (and the overrides do not declare
    complete) falls back to Monday-Friday; a structlog warning is logged once per such year.
    Nothing here raises for an unknown year.
    """

    overrides: CalendarOverrides = field(default_factory=CalendarOverrides)
    _known_years: dict[int, bool] = field(default_factory=dict, init=False, repr=False)
    _warned_years: set[int] = field(default_factory=set, init=False, repr=False)

    def is_workday(self, day: dt.date) -> bool:
        """True when `day` is an official working day."""
        day = _as_date(day)
        if day in self.overrides.workdays:
            return True
        if day in self.overrides.holidays:
            return False
        if day.year in self.overrides.complete_years or not self.knows_year(day.year):
            return day.weekday() < 5
        return bool(chinese_calendar.is_workday(day))

    def knows_year(self, year: int) -> bool:
        """True when the official schedule for `year` is available (library or overrides).

        Logs the fallback warning the first time an unknown year is asked about.
        """
        known = self.has_schedule(year)
        if not known and year not in self._warned_years:
            self._warned_years.add(year)
            structlog.get_logger(__name__).warning(
                "workday_calendar_fallback",
                year=year,
                fallback="monday_to_friday",
                hint="update chinesecalendar or add the year's holidays to the calendar overrides",
            )
        return known

    def has_schedule(self, year: int) -> bool:
        """`knows_year` without the warning (for reports that say it themselves)."""
        if year in self.overrides.complete_years:
            return True
        known = self._known_years.get(year)
        if known is None:
            try:
                chinese_calendar.is_workday(dt.date(year, 6, 1))
                known = True
            except NotImplementedError:
                known = False
            self._known_years[year] = known
        return known

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The n-th working day after `start` (`start` itself not counted); n < 0 goes back.

        `add_working_days(d, 0)` is `d`, whether or not `d` is a working day.
        """
        day = _as_date(start)
        step = dt.timedelta(days=1 if n >= 0 else -1)
        remaining = abs(n)
        while remaining:
            day += step
            if self.is_workday(day):
                remaining -= 1
        return day

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in the half-open interval (start, end]; negative when end < start."""
        start, end = _as_date(start), _as_date(end)
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        day = start
        while day < end:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return count

    def next_workday(self, day: dt.date) -> dt.date:
        """`day` itself when it is a working day, else the first working day after it."""
        day = _as_date(day)
        while not self.is_workday(day):
            day += dt.timedelta(days=1)
        return day


def _as_date(value: dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    return value


SHIPPED_CALENDAR = "calendar.yaml"
"""The project's calendar override data, beside the rulesets (years the library lacks)."""


def load_calendar(rulesets_dir: Path, county_file: Path | None = None) -> WorkdayCalendar:
    """The calendar a service counts working days with: the official schedule from
    `chinesecalendar`, the project's `rulesets/calendar.yaml`, then the county's own file."""
    overrides = CalendarOverrides()
    shipped = rulesets_dir / SHIPPED_CALENDAR
    if shipped.exists():
        overrides = CalendarOverrides.from_yaml(shipped)
    if county_file is not None:
        if not county_file.exists():
            raise FileNotFoundError(f"calendar_file: {county_file} does not exist")
        overrides = overrides.merged(CalendarOverrides.from_yaml(county_file))
    return WorkdayCalendar(overrides)


def fallback_years(calendar: WorkdayCalendar, years: Iterable[int]) -> list[int]:
    """Those of `years` whose working days rely on the Monday-Friday fallback."""
    return [year for year in years if not calendar.has_schedule(year)]


_default = WorkdayCalendar()


def default_calendar() -> WorkdayCalendar:
    """The process-wide calendar without overrides."""
    return _default


def is_workday(day: dt.date) -> bool:
    """True when `day` is an official working day (process-wide calendar, no overrides)."""
    return _default.is_workday(day)


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The n-th working day after `start` (process-wide calendar, no overrides)."""
    return _default.add_working_days(start, n)
