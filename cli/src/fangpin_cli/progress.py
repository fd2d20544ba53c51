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

The environment variable `FANGPIN_PROGRESS` overrides the terminal test: `always` draws the
line whatever the stream is (tests, or a terminal multiplexer that hides its tty), `never`
draws nothing; anything else (or unset) is `auto`, the terminal test above. `shows_progress`
(`fangpin_cli.progress_mode`, which does not import rich) answers the question for commands
that must decide before doing anything costly.

Commands that follow counts kept elsewhere (a re-screen run on the server) name extra counts
with `counts=("changed",)` and set them with `track.count("changed", n)`; `set_total` gives
the total once it is known, and `rebase` starts the rate and time left afresh when the
counts already held work done before the command started watching.
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

from fangpin_cli.progress_mode import MODE_VARIABLE, shows_progress

__all__ = ["MODE_VARIABLE", "REFRESH_SECONDS", "Tracker", "progress", "shows_progress"]

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
        self.counts: dict[str, int] = {}
        self._base: dict[str, float] = {}

    def advance(self, done: int = 1, rejected: int = 0) -> None:
        """`done` more records finished, `rejected` of them rejected."""
        self.done += done
        self.rejected += rejected
        self._maybe_push()

    def position(self, value: float) -> None:
        """Progress toward `total` in the unit of `total` (bytes read, rows read, ...)."""
        self._position = value
        self._maybe_push()

    def count(self, name: str, value: int) -> None:
        """Set the named extra count (one of the `counts` given to `progress`) to `value`."""
        self.counts[name] = value
        self._maybe_push()

    def set_total(self, total: float | None) -> None:
        """The total, once known (a server counts what it has to do after it starts)."""
        self.total = total
        if self._display is not None and self._task is not None:
            self._display.update(self._task, total=total)

    def rebase(self) -> None:
        """Count rate and time left from now: what is done so far was done before watching."""
        completed = self.done if self._position is None else self._position
        self._base = {"base_records": self.done, "base_completed": completed}
        if self._display is not None and self._task is not None:
            self._display.reset(self._task, total=self.total, completed=0)
        self.push()

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
            self._task,
            completed=completed,
            records=self.done,
            rejected=self.rejected,
            **self._base,
            **self.counts,
        )


class _Counts(ProgressColumn):
    """`12,345 records · 1,234/s · 3 rejected · 0:01:05 left` (extra counts after the rate)."""

    def __init__(self, unit: str, rejects: bool, counts: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.unit = unit
        self.rejects = rejects
        self.counts = counts

    def render(self, task: Task) -> Text:
        records = int(task.fields.get("records", 0))
        rejected = int(task.fields.get("rejected", 0))
        base_records = float(task.fields.get("base_records", 0))
        base_completed = float(task.fields.get("base_completed", 0))
        elapsed = task.elapsed or 0.0
        parts = [f"{records:,} {self.unit}"]
        if elapsed > 0:
            parts.append(f"{(records - base_records) / elapsed:,.0f}/s")
        parts += [f"{int(task.fields.get(name, 0)):,} {name}" for name in self.counts]
        if self.rejects or rejected:
            parts.append(f"{rejected:,} rejected")
        gained = task.completed - base_completed
        if task.total and gained > 0 and elapsed > 0:
            remaining = max(task.total - task.completed, 0.0)
            left = elapsed * remaining / gained
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
    counts: tuple[str, ...] = (),
    bar: bool = False,
) -> Iterator[Tracker]:
    """A `Tracker` whose counts are drawn on `stream` (default standard error) while the
    block runs, when that stream is a terminal (see `shows_progress`); silent otherwise.
    `unit` names what is counted; `rejects=False` leaves the reject count out until there is
    one; `counts` names extra counts set with `Tracker.count`; `bar=True` keeps a bar for a
    total given later with `Tracker.set_total`."""
    out = sys.stderr if stream is None else stream
    if not shows_progress(out):
        yield Tracker(total=total)
        return
    columns: list[ProgressColumn] = [TextColumn("[bold]{task.description}")]
    if total or bar:
        columns += [BarColumn(bar_width=24), TextColumn("{task.percentage:>3.0f}%")]
    columns.append(_Counts(unit, rejects, counts))
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
