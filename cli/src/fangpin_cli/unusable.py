"""Input a command cannot use at all (exit status 2), as opposed to a bad record in it."""

from __future__ import annotations


class UnusableInput(Exception):
    """The file as a whole cannot be read: unknown format, undecodable text, a header without a
    household_id column. The message is one line naming the problem and what to do about it."""
