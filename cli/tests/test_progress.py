"""The progress helper: silent unless its stream is a terminal; there it shows the counts."""

from __future__ import annotations

import io
import re

import pytest

from fangpin_cli import progress as progress_module
from fangpin_cli.progress import progress

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_nothing_is_written_when_the_stream_is_not_a_terminal() -> None:
    stream = io.StringIO()
    with progress("import", total=10, stream=stream) as track:
        for n in range(10):
            track.advance(rejected=n % 2)
            track.position(n + 1)
    assert stream.getvalue() == ""
    assert (track.done, track.rejected) == (10, 5)


def test_on_a_terminal_the_line_shows_records_rate_rejects_and_time_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(progress_module, "REFRESH_SECONDS", 0.0)  # every update is drawn
    monkeypatch.setenv("COLUMNS", "160")
    stream = FakeTerminal()
    with progress("import hh.csv", total=1000, unit="households", stream=stream) as track:
        for _ in range(40):
            track.advance()
        track.advance(rejected=2)
        track.position(500)
    shown = ANSI.sub("", stream.getvalue())
    assert "import hh.csv" in shown
    assert "41 households" in shown and "2 rejected" in shown
    assert "50%" in shown and "left" in shown and "/s" in shown


def test_without_a_total_there_is_no_bar_and_no_time_left_nor_an_empty_reject_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    stream = FakeTerminal()
    with progress("export", rejects=False, stream=stream) as track:
        track.advance(3)
    shown = ANSI.sub("", stream.getvalue())
    assert "3 records" in shown and "left" not in shown and "%" not in shown
    assert "rejected" not in shown
