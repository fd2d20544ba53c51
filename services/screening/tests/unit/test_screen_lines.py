"""Screening JSON lines: one output line per input line, rejections with path and line number."""

from __future__ import annotations

import json

import msgspec
from screening_support import household, ruleset

from fangpin_contracts.household import household_to_dict
from fangpin_screening.domain.batch import screen_block, screen_bytes, screen_lines
from fangpin_screening.domain.engine import decide


def line(**kwargs: object) -> bytes:
    return msgspec.json.encode(household_to_dict(household(**kwargs)))


def test_every_input_line_gets_one_output_line_in_order() -> None:
    good = line(per_capita=5000.0)
    bad = good.replace(b'"relation":"head"', b'"relation":"boss"')
    lines = [good, bad, b"", b"{", good]
    result = screen_lines(lines, 10, ruleset())
    out = result.text.splitlines()
    assert len(out) == 5 and result.text.endswith("\n")
    assert result.rejected == 3
    assert json.loads(out[0]) == decide(household(per_capita=5000.0), ruleset()).to_dict()
    assert json.loads(out[1]) == {
        "line": 11,
        "household_id": "H00001",
        "error": "members[0].relation: Invalid enum value 'boss'",
    }
    assert json.loads(out[2]) == {"line": 12, "household_id": None, "error": ": empty record"}
    assert json.loads(out[3])["line"] == 13 and json.loads(out[3])["household_id"] is None
    assert json.loads(out[4]) == json.loads(out[0])


def test_bad_check_digit_is_rejected_and_the_batch_continues() -> None:
    good = line(per_capita=5000.0)
    number = household().members[0].id_number
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    bad = good.replace(number.encode(), wrong.encode())
    result = screen_lines([bad, good], 1, ruleset())
    first, second = (json.loads(x) for x in result.text.splitlines())
    assert first == {
        "line": 1,
        "household_id": "H00001",
        "error": "members[0].id_number: bad check digit",
    }
    assert second["in_scope"] is True


def test_rejection_never_shows_a_full_id_number() -> None:
    leaked = line().replace(b'"relation":"head"', b'"relation":"652827198001113756"')
    result = screen_lines([leaked], 1, ruleset())
    assert "652827198001113756" not in result.text
    assert result.rejected == 1


def test_overflowing_amounts_are_rejected_with_the_income_path() -> None:
    huge = line(income={"wage": 1.7e308, "business": 1.7e308})
    result = screen_lines([huge], 1, ruleset())
    assert json.loads(result.text)["error"].startswith("income: ")


def test_no_lines_no_output() -> None:
    assert screen_lines([], 1, ruleset()).text == ""


def test_bytes_output_is_the_text_output_encoded() -> None:
    good = line(per_capita=5000.0)
    odd_id = good.replace(b'"H00001"', '"户H00001"'.encode())
    lines = [good, b"{", odd_id, line(per_capita=9000.0)]
    text = screen_lines(lines, 3, ruleset())
    data = screen_bytes(lines, 3, ruleset())
    assert data.data == text.text.encode("utf-8") and data.rejected == text.rejected == 2
    assert screen_block(b"\n".join(lines), 3, ruleset()) == data
    assert json.loads(text.text.splitlines()[2])["household_id"] == "户H00001"
