"""A progress line on the terminal for long commands (records done, rate, rejects, time left).

Use it around any loop over records::

    from fangpin_cli.progress import progress

    with progress("import", total=file_size) as track:
        for record in records:
            ...
            track.advance(rejected=0 if ok else 1)  # one record done (and maybe rejected)
            track.position(bytes_read)               # optional: progress toward `total`

`total` is how much there is to do, counted either in records (then `advance` alone moves
the bar) or in another unit the command knows up front (bytes of a file, rows of a sheet),
reported with `position`. With no total the line shows counts and rate only; with one it adds
a bar and the time left. `track.done` and `track.rejected` hold the counts afterwards.

The line is drawn with rich on standard error only when standard error is a terminal: piped
or redirected (a script, CI, a test's CliRunner) nothing at all is written, so the command's
own output is unchanged. Lines the command writes to standard output while the line is shown
appear above it when standard output is the terminal too; redirected, they go to their file
untouched. Updates are throttled (at most every `REFRESH_SECONDS`), so calling `advance` once
per record costs next to nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn
from rich.text import Text

REFRESH_SECONDS: Final = 0.1


class Tracker:
    """Counts of a running command; shown by the `progress` context manager when it can."""

    def __init__(
        self, display: Progress | None = None, total: float | None = None, description: str = ""
    ) -> None:
        self.done = 0
        self.rejected = 0
        self.total = total
        self._position: float | None = None
        self._display = display
        self._task = display.add_task(description, total=total) if display is not None else None
        self._pushed = 0.0

    def advance(self, done: int = 1, rejected: int = 0) -> None:
        """`done` more records finished, `rejected` of them rejected."""
        self.done += done
        self.rejected += rejected
        self._maybe_push()

    def position(self, value: float) -> None:
        """Progress toward `total` in the unit of `total` (bytes read, rows read, ...)."""
        self._position = value
        self._maybe_push()

    def _maybe_push(self) -> None:
        if self._display is None:
            return
        now = time.monotonic()
        if now - self._pushed >= REFRESH_SECONDS:
            self._pushed = now
            self.push()

    def push(self) -> None:
        """Send the counts to the display now."""
        if self._display is None or self._task is None:
            return
        completed = self.done if self._position is None else self._position
        self._display.update(
            self._task, completed=completed, records=self.done, rejected=self.rejected
        )


class _Counts(ProgressColumn):
    """`12,345 records · 1,234/s · 3 rejected · 0:01:05 left`."""

    def __init__(self, unit: str, rejects: bool) -> None:
        super().__init__()
        self.unit = unit
        self.rejects = rejects

    def render(self, task: Task) -> Text:
        records = int(task.fields.get("records", 0))
        rejected = int(task.fields.get("rejected", 0))
        elapsed = task.elapsed or 0.0
        parts = [f"{records:,} {self.unit}"]
        if elapsed > 0:
            parts.append(f"{records / elapsed:,.0f}/s")
        if self.rejects or rejected:
            parts.append(f"{rejected:,} rejected")
        if task.total and task.completed and elapsed > 0:
            fraction = min(task.completed / task.total, 1.0)
            left = elapsed * (1 - fraction) / fraction
            parts.append(f"{_clock(left)} left")
        text = Text(" · ".join(parts))
        if rejected:
            text.highlight_regex(r"[\d,]+ rejected", "yellow")
        return text


def _clock(seconds: float) -> str:
    whole = int(seconds + 0.5)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or fake stream
        return False


@contextmanager
def progress(
    description: str,
    *,
    total: float | None = None,
    unit: str = "records",
    rejects: bool = True,
    stream: TextIO | None = None,
) -> Iterator[Tracker]:
    """A `Tracker` whose counts are drawn on `stream` (default standard error) while the
    block runs, when that stream is a terminal; silent otherwise. `unit` names what is
    counted; `rejects=False` leaves the reject count out until there is one."""
    out = sys.stderr if stream is None else stream
    if not _is_terminal(out):
        yield Tracker(total=total)
        return
    columns: list[ProgressColumn] = [TextColumn("[bold]{task.description}")]
    if total:
        columns += [BarColumn(bar_width=24), TextColumn("{task.percentage:>3.0f}%")]
    columns.append(_Counts(unit, rejects))
    display = Progress(
        *columns,
        console=Console(file=out),
        redirect_stdout=_is_terminal(sys.stdout),
        redirect_stderr=False,
    )
    with display:
        tracker = Tracker(display, total, description)
        try:
            yield tracker
        finally:
            tracker.push()
