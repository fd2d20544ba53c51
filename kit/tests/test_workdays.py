"""Tests of the working-day calendar: official holidays, make-up days, fallback and overrides."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from fangpin_kit import workdays
from fangpin_kit.workdays import CalendarOverrides, WorkdayCalendar

D = dt.date


def test_spring_festival_2024_is_off_and_its_make_up_sundays_are_working_days() -> None:
    cal = WorkdayCalendar()
    assert not any(cal.is_workday(D(2024, 2, day)) for day in range(10, 18))
    assert cal.is_workday(D(2024, 2, 4))  # Sunday, 调休上班
    assert cal.is_workday(D(2024, 2, 18))  # Sunday, 调休上班


def test_adding_working_days_skips_spring_festival_and_counts_the_make_up_sunday() -> None:
    # Thu 8 Feb 2024 -> Fri 9 (1), 10-17 off, Sun 18 make-up (2), Mon 19 (3), 20 (4), 21 (5)
    assert WorkdayCalendar().add_working_days(D(2024, 2, 8), 5) == D(2024, 2, 21)


def test_adding_working_days_skips_national_day_and_counts_make_up_days() -> None:
    # Fri 27 Sep 2024 -> Sat 28 off, Sun 29 make-up (1), Mon 30 (2), 1-7 Oct off, 8, 9, 10 (5)
    cal = WorkdayCalendar()
    assert cal.add_working_days(D(2024, 9, 27), 5) == D(2024, 10, 10)
    # the make-up Saturday 12 Oct counts: Thu 10 -> Fri 11 (1), Sat 12 (2), Mon 14 (3)
    assert cal.add_working_days(D(2024, 10, 10), 3) == D(2024, 10, 14)


def test_zero_working_days_is_the_start_date_and_negative_counts_go_back() -> None:
    cal = WorkdayCalendar()
    assert cal.add_working_days(D(2024, 2, 10), 0) == D(2024, 2, 10)
    assert cal.add_working_days(D(2024, 2, 19), -2) == D(2024, 2, 9)


def test_working_days_between_counts_the_half_open_interval() -> None:
    cal = WorkdayCalendar()
    assert cal.working_days_between(D(2024, 2, 8), D(2024, 2, 21)) == 5
    assert cal.working_days_between(D(2024, 2, 21), D(2024, 2, 8)) == -5
    assert cal.working_days_between(D(2024, 2, 8), D(2024, 2, 8)) == 0


def test_next_workday_moves_past_a_holiday_only_when_needed() -> None:
    cal = WorkdayCalendar()
    assert cal.next_workday(D(2024, 10, 1)) == D(2024, 10, 8)
    assert cal.next_workday(D(2024, 10, 12)) == D(2024, 10, 12)


def test_unknown_year_falls_back_to_monday_to_friday_without_raising() -> None:
    cal = WorkdayCalendar()
    assert cal.is_workday(D(2030, 1, 4))  # Friday
    assert not cal.is_workday(D(2030, 1, 5))  # Saturday
    assert not cal.knows_year(2030)
    # crossing from a known year into an unknown one just keeps counting
    assert cal.add_working_days(D(2026, 12, 30), 3) == D(2027, 1, 4)


def test_unknown_year_warning_is_logged_once_per_year() -> None:
    cal = WorkdayCalendar()
    with capture_logs() as logs:
        for day in range(1, 20):
            cal.is_workday(D(2031, 3, day))
        cal.is_workday(D(2032, 3, 1))
    fallbacks = [entry for entry in logs if entry["event"] == "workday_calendar_fallback"]
    assert [entry["year"] for entry in fallbacks] == [2031, 2032]
    assert all(entry["log_level"] == "warning" for entry in fallbacks)


def test_known_year_logs_no_warning() -> None:
    with capture_logs() as logs:
        WorkdayCalendar().add_working_days(D(2024, 9, 27), 5)
    assert logs == []


def test_overrides_add_a_holiday_and_a_make_up_day_in_a_year_the_library_lacks() -> None:
    overrides = CalendarOverrides(holidays={D(2030, 1, 1)}, workdays={D(2030, 1, 6)})
    cal = WorkdayCalendar(overrides)
    assert not cal.is_workday(D(2030, 1, 1))  # Tuesday made a holiday
    assert cal.is_workday(D(2030, 1, 6))  # Sunday made a working day
    # Mon 31 Dec 2029 -> Wed 2 (1), Thu 3 (2), Fri 4 (3), Sun 6 (4), Mon 7 (5)
    assert cal.add_working_days(D(2029, 12, 31), 5) == D(2030, 1, 7)


def test_overrides_win_over_the_library_for_a_known_year() -> None:
    cal = WorkdayCalendar(CalendarOverrides(holidays={D(2024, 2, 18)}))
    assert not cal.is_workday(D(2024, 2, 18))


def test_complete_years_in_the_overrides_suppress_the_fallback_warning() -> None:
    overrides = CalendarOverrides(holidays={D(2033, 1, 3)}, complete_years={2033})
    cal = WorkdayCalendar(overrides)
    with capture_logs() as logs:
        assert not cal.is_workday(D(2033, 1, 3))
        assert cal.is_workday(D(2033, 1, 4))
        assert cal.knows_year(2033)
    assert logs == []


def test_overrides_load_from_a_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(
        "holidays: [2027-02-05, '2027-02-08']\nworkdays: [2027-02-14]\ncomplete_years: [2027]\n",
        encoding="utf-8",
    )
    overrides = CalendarOverrides.from_yaml(path)
    assert overrides.holidays == {D(2027, 2, 5), D(2027, 2, 8)}
    assert overrides.workdays == {D(2027, 2, 14)}
    assert overrides.complete_years == {2027}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"holiday": ["2027-01-01"]}, "unknown keys"),
        ({"holidays": ["2027-13-01"]}, "not an ISO date"),
        ({"holidays": [20270101]}, "not a date"),
        ({"holidays": ["2027-01-01"], "workdays": ["2027-01-01"]}, "both as holiday and workday"),
    ],
)
def test_malformed_overrides_are_refused_with_the_reason(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CalendarOverrides.from_mapping(data)


def test_malformed_override_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text("workdays: [tomorrow]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"calendar\.yaml"):
        CalendarOverrides.from_yaml(path)


def test_module_functions_use_the_official_calendar() -> None:
    assert workdays.is_workday(D(2024, 10, 12))
    assert not workdays.is_workday(D(2024, 10, 7))
    assert workdays.add_working_days(D(2024, 2, 8), 5) == D(2024, 2, 21)
    assert workdays.default_calendar() is workdays.default_calendar()


def test_services_count_with_the_shipped_file_plus_the_county_file(tmp_path: Path) -> None:
    (tmp_path / "calendar.yaml").write_text("holidays: [2027-02-08]\n", encoding="utf-8")
    county = tmp_path / "county.yaml"
    county.write_text("workdays: [2027-02-20]\ncomplete_years: [2027]\n", encoding="utf-8")
    calendar = workdays.load_calendar(tmp_path, county)
    assert not calendar.is_workday(D(2027, 2, 8))  # a Monday off (shipped file)
    assert calendar.is_workday(D(2027, 2, 20))  # a make-up Saturday (county file)
    assert workdays.fallback_years(calendar, [2026, 2027, 2028]) == [2028]


def test_a_missing_county_calendar_file_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"calendar_file: .*nowhere\.yaml"):
        workdays.load_calendar(tmp_path, tmp_path / "nowhere.yaml")


def test_the_repository_calendar_file_loads() -> None:
    from fangpin_kit.settings import repo_root

    calendar = workdays.load_calendar(repo_root() / "rulesets")
    assert calendar.is_workday(D(2026, 2, 28))  # the library's 2026 make-up Saturday
