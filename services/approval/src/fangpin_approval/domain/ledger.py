"""Append-only audit ledger: each entry holds the sha256 of its content and of the previous one."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no whitespace, UTF-8 kept as is."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def entry_hash(seq: int, recorded_at: str, record: Mapping[str, Any], prev_hash: str) -> str:
    """sha256 over the canonical JSON of an entry's content and the previous entry's hash."""
    content = {"seq": seq, "recorded_at": recorded_at, "record": record, "prev_hash": prev_hash}
    return hashlib.sha256(canonical_json(content)).hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    """One action in the ledger; `record` is JSON-ready (see CaseAction.ledger_record)."""

    seq: int
    recorded_at: str
    record: Mapping[str, Any]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        """The entry as stored or exported."""
        return {
            "seq": self.seq,
            "recorded_at": self.recorded_at,
            "record": dict(self.record),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LedgerEntry:
        """Read an entry back from its stored or exported form."""
        return cls(
            seq=int(data["seq"]),
            recorded_at=str(data["recorded_at"]),
            record=data["record"],
            prev_hash=str(data["prev_hash"]),
            hash=str(data["hash"]),
        )


class Ledger:
    """The chain in memory; the store persists entries and never updates or deletes one."""

    def __init__(self, entries: Iterable[LedgerEntry] = ()) -> None:
        self._entries = list(entries)

    @property
    def entries(self) -> tuple[LedgerEntry, ...]:
        """All entries, oldest first."""
        return tuple(self._entries)

    @property
    def head(self) -> str:
        """Hash of the newest entry (genesis when empty); anchor it to detect a cut tail."""
        return self._entries[-1].hash if self._entries else GENESIS_HASH

    def append(self, record: Mapping[str, Any], recorded_at: dt.datetime) -> LedgerEntry:
        """Chain a new entry after the head."""
        if recorded_at.tzinfo is None:
            raise ValueError("ledger timestamps carry a time zone")
        # round-trip through JSON so the stored record is exactly what was hashed
        clean = json.loads(canonical_json(dict(record)))
        seq = len(self._entries) + 1
        stamp = recorded_at.isoformat()
        entry = LedgerEntry(seq, stamp, clean, self.head, entry_hash(seq, stamp, clean, self.head))
        self._entries.append(entry)
        return entry


class Problem(StrEnum):
    """What `verify` found wrong."""

    EDITED = "edited"
    DELETED = "deleted"
    REORDERED = "reordered"
    TRUNCATED = "truncated"


@dataclass(frozen=True)
class Verification:
    """Result of `verify`: ok, or the first bad entry and what is wrong with it."""

    ok: bool
    checked: int
    problem: Problem | None = None
    seq: int | None = None
    message: str = ""


def verify(
    entries: Sequence[LedgerEntry],
    *,
    expected_head: str | None = None,
    after: tuple[int, str] = (0, GENESIS_HASH),
) -> Verification:
    """Check the chain and name the first edited, deleted or reordered entry.

    An edit that also recomputed the entry's own hash is caught by the next entry's link; an
    edit or deletion at the very end is only caught against an anchored `expected_head`.
    `after` is the (seq, hash) of the entry before `entries`, to check a long chain in chunks.
    """
    previous_seq, previous_hash = after
    for position, entry in enumerate(entries):
        expected_seq = previous_seq + 1
        if entry.seq != expected_seq:
            later = {e.seq for e in entries[position + 1 :]}
            if entry.seq < expected_seq or expected_seq in later:
                return _bad(
                    Problem.REORDERED,
                    expected_seq if expected_seq in later else entry.seq,
                    position,
                    f"entry {entry.seq} stands where entry {expected_seq} belongs",
                )
            missing = f"{expected_seq}" + (
                f"-{entry.seq - 1}" if entry.seq - 1 > expected_seq else ""
            )
            return _bad(
                Problem.DELETED,
                expected_seq,
                position,
                f"entry {missing} is missing before entry {entry.seq}",
            )
        if entry_hash(entry.seq, entry.recorded_at, entry.record, entry.prev_hash) != entry.hash:
            return _bad(
                Problem.EDITED,
                entry.seq,
                position,
                f"entry {entry.seq} does not match its hash: its content was changed",
            )
        if entry.prev_hash != previous_hash:
            return _bad(
                Problem.EDITED,
                previous_seq,
                position,
                f"entry {previous_seq} was changed (and rehashed): entry {entry.seq} "
                "recorded a different hash for it",
            )
        previous_hash, previous_seq = entry.hash, entry.seq
    if expected_head is not None and previous_hash != expected_head:
        return _bad(
            Problem.TRUNCATED,
            previous_seq,
            len(entries),
            f"the chain ends at entry {previous_seq} whose hash is not the anchored head: "
            "entries after it were deleted or it was changed",
        )
    return Verification(ok=True, checked=len(entries))


def _bad(problem: Problem, seq: int, checked: int, message: str) -> Verification:
    return Verification(ok=False, checked=checked, problem=problem, seq=seq, message=message)
