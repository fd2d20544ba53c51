"""Whether a command draws its progress line: the terminal test and `FANGPIN_PROGRESS`.

Kept apart from `fangpin_cli.progress` (which imports rich, tens of milliseconds) so that a
command whose start-up counts (`fangpin screen`) decides first and imports rich only when a
line will be drawn.

`FANGPIN_PROGRESS=always` draws the line whatever the stream is (tests, or a terminal
multiplexer that hides its tty), `never` draws nothing; anything else, or unset, is `auto`:
only when the stream is a terminal.
"""

from __future__ import annotations

import os
import sys
from typing import Final, TextIO

MODE_VARIABLE: Final = "FANGPIN_PROGRESS"
"""`always`, `never` or `auto` (the default: only when the stream is a terminal)."""


def is_terminal(stream: TextIO) -> bool:
    """Whether `stream` is a terminal (False for a closed or fake stream)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def shows_progress(stream: TextIO | None = None) -> bool:
    """Whether a progress line is drawn on `stream` (default standard error):
    `FANGPIN_PROGRESS` `always` or `never`, else whether the stream is a terminal."""
    mode = os.environ.get(MODE_VARIABLE, "auto").strip().lower()
    if mode in ("always", "never"):
        return mode == "always"
    return is_terminal(sys.stderr if stream is None else stream)
