"""Risk clues: repeats merge while open, due dates count working days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from fangpin_intake.domain.clues import ClueRules, open_clue
from fangpin_kit.workdays import default_calendar

RULES = ClueRules(verification_working_days=5)


def new_clue(registered_on: date = date(2024, 9, 27)):  # type: ignore[no-untyped-def]
    return open_clue(
        household_id="H00001",
        kind="high_medical_expense",
        source="department_warning",
        dept="medical_insurance",
        observed_at=date(2024, 9, 20),
        registered_at=datetime(2024, 9, 27, 2, tzinfo=UTC),
        registered_on=registered_on,
        warning_id="w1",
        rules=RULES,
        add_working_days=default_calendar().add_working_days,
    )


def test_verification_due_skips_the_national_day_holiday() -> None:
    # 2024-09-27 Friday; Sep 29 (Sunday) is a make-up working day, Oct 1-7 a holiday:
    # Sep 29, Sep 30, Oct 8, Oct 9, Oct 10.
    clue = new_clue(date(2024, 9, 27))
    assert clue.verification_due == date(2024, 10, 10)


def test_repeat_warning_merges_into_the_open_clue() -> None:
    clue = new_clue()
    clue.merge("w2", date(2024, 9, 25))
    assert clue.warnings == 2
    assert clue.warning_ids == ["w1", "w2"]
    assert clue.observed_at == date(2024, 9, 25)


def test_closed_clue_takes_no_more_warnings() -> None:
    clue = new_clue()
    assert clue.close("in_scope") is True
    assert clue.close("in_scope") is False
    with pytest.raises(ValueError, match="closed"):
        clue.merge("w3", date(2024, 9, 28))


def test_unknown_source_is_refused() -> None:
    with pytest.raises(ValueError, match="source"):
        open_clue(
            household_id="H00001",
            kind="other",
            source="rumour",
            dept=None,
            observed_at=date(2024, 9, 20),
            registered_at=datetime(2024, 9, 27, tzinfo=UTC),
            registered_on=date(2024, 9, 27),
            warning_id=None,
            rules=RULES,
            add_working_days=default_calendar().add_working_days,
        )
