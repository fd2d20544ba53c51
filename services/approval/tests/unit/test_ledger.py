"""Audit ledger: a hash chain over every action; verify names the first bad entry."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

import pytest
from approval_support import Driver, OpenCase, at

from fangpin_approval.domain.ledger import (
    GENESIS_HASH,
    Ledger,
    LedgerEntry,
    Problem,
    canonical_json,
    entry_hash,
    verify,
)


@pytest.fixture
def ledger(open_case: OpenCase, driver: Driver) -> Ledger:
    case = open_case()
    driver.to_step(case)
    chain = Ledger()
    for action in case.history:
        chain.append(action.ledger_record(case.household_id), action.at)
    return chain


def test_every_case_action_is_one_chained_entry(ledger: Ledger) -> None:
    entries = ledger.entries
    assert [e.seq for e in entries] == list(range(1, 9))
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert ledger.head == entries[-1].hash
    assert entries[1].record["actor"]["level"] == "household"
    assert verify(entries) == verify(entries, expected_head=ledger.head)
    assert verify(entries).ok and verify(entries).checked == 8


def test_an_edited_entry_is_named(ledger: Ledger) -> None:
    entries = list(ledger.entries)
    forged = dict(entries[3].record) | {"comment": "改过的意见"}
    entries[3] = dataclasses.replace(entries[3], record=forged)
    result = verify(entries)
    assert (result.ok, result.problem, result.seq) == (False, Problem.EDITED, 4)


def test_an_edit_that_recomputes_its_own_hash_is_caught_by_the_next_link(ledger: Ledger) -> None:
    entries = list(ledger.entries)
    old = entries[2]
    forged = dict(old.record) | {"comment": "伪造"}
    entries[2] = dataclasses.replace(
        old, record=forged, hash=entry_hash(old.seq, old.recorded_at, forged, old.prev_hash)
    )
    result = verify(entries)
    assert (result.problem, result.seq) == (Problem.EDITED, 3)
    assert "entry 4 recorded a different hash" in result.message


def test_a_deleted_entry_is_named(ledger: Ledger) -> None:
    entries = list(ledger.entries)
    del entries[4]
    result = verify(entries)
    assert (result.problem, result.seq) == (Problem.DELETED, 5)
    assert "entry 5 is missing" in result.message


def test_deleting_the_first_entry_is_detected(ledger: Ledger) -> None:
    result = verify(list(ledger.entries)[1:])
    assert (result.problem, result.seq) == (Problem.DELETED, 1)


def test_reordered_entries_are_named(ledger: Ledger) -> None:
    entries = list(ledger.entries)
    entries[2], entries[3] = entries[3], entries[2]
    result = verify(entries)
    assert (result.problem, result.seq) == (Problem.REORDERED, 3)


def test_a_cut_tail_is_caught_against_the_anchored_head(ledger: Ledger) -> None:
    entries = list(ledger.entries)[:-2]
    assert verify(entries).ok  # nothing inside the chain is wrong...
    result = verify(entries, expected_head=ledger.head)
    assert (result.problem, result.seq) == (Problem.TRUNCATED, 6)


def test_entries_round_trip_through_their_stored_form(ledger: Ledger) -> None:
    restored = [LedgerEntry.from_dict(e.as_dict()) for e in ledger.entries]
    assert verify(restored, expected_head=ledger.head).ok
    assert Ledger(restored).head == ledger.head


def test_appending_continues_a_restored_chain(ledger: Ledger) -> None:
    chain = Ledger(ledger.entries)
    entry = chain.append({"action": "mark_overdue"}, at(2024, 3, 30))
    assert (entry.seq, entry.prev_hash) == (9, ledger.head)
    assert verify(chain.entries).ok


def test_canonical_json_ignores_key_order_and_keeps_chinese() -> None:
    assert canonical_json({"b": 1, "a": "评议"}) == canonical_json({"a": "评议", "b": 1})
    assert "评议".encode() in canonical_json({"a": "评议"})


def test_ledger_refuses_naive_timestamps() -> None:
    with pytest.raises(ValueError, match="time zone"):
        Ledger().append({"action": "open"}, dt.datetime(2024, 3, 4))


def test_a_chain_checked_in_chunks_finds_what_the_whole_check_finds(ledger: Ledger) -> None:
    entries = list(ledger.entries)
    first, rest = entries[:5], entries[5:]
    assert verify(first).ok
    assert verify(rest, expected_head=ledger.head, after=(5, first[-1].hash)).ok
    forged = dataclasses.replace(rest[1], record=dict(rest[1].record) | {"comment": "改"})
    result = verify([rest[0], forged, rest[2]], after=(5, first[-1].hash))
    assert (result.problem, result.seq) == (Problem.EDITED, 7)
    gap = verify(rest[1:], after=(5, first[-1].hash))
    assert (gap.problem, gap.seq) == (Problem.DELETED, 6)
