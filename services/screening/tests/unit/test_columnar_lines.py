"""The columnar decoder (C) and the reference path (msgspec + schema checks) screen alike.

The columnar decoder only takes lines it is sure are valid; whatever it takes must give the
same columns, and so the same output, as the reference path, and whatever it leaves must be
decided by the reference path. These tests compare both on valid records covering every
field and value, and on records mutated at the byte and at the token level.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any, get_args

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from screening_support import AS_OF, id_number, ruleset

from fangpin_contracts.household import Employment, EventKind, Relation, SchoolStage
from fangpin_screening.domain.batch import screen_bytes
from fangpin_screening.domain.lines import LINE_DECODER, population_of_lines
from fangpin_screening.domain.population import Population

SPEC = Path(__file__).resolve().parents[4] / "spec" / "examples"

# every value schema v1 allows, taken from the model
RELATIONS = list(get_args(Relation))
EMPLOYMENT = list(get_args(Employment))
SCHOOL = list(get_args(SchoolStage))
EVENTS = list(get_args(EventKind))

AMOUNT = st.one_of(
    st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=0, max_value=10**9).map(lambda fen: fen / 100),
    st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False),
)
DAY = st.dates(min_value=date(1920, 1, 1), max_value=AS_OF + timedelta(days=400))
NAME = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=52)


def _maybe(
    draw: st.DrawFn, record: dict[str, Any], key: str, value: st.SearchStrategy[Any]
) -> None:
    if draw(st.booleans()):
        record[key] = draw(value)


@st.composite
def members(draw: st.DrawFn, k: int) -> dict[str, Any]:
    birth = draw(DAY)
    member: dict[str, Any] = {
        "id_number": id_number(birth, k),
        "name": draw(st.sampled_from(["张三", "李四娃", "M"]))
        if draw(st.booleans())
        else draw(NAME),
        "relation": draw(st.sampled_from(RELATIONS)),
        "birth_date": birth.isoformat(),
    }
    _maybe(draw, member, "hukou", st.sampled_from(["rural", "urban", "collective"]))
    _maybe(draw, member, "labor_capacity", st.sampled_from(["full", "weak", "semi", "none"]))
    _maybe(draw, member, "employment", st.sampled_from(EMPLOYMENT))
    _maybe(draw, member, "illness", st.sampled_from(["none", "chronic", "serious"]))
    _maybe(draw, member, "school_stage", st.sampled_from(SCHOOL))
    _maybe(draw, member, "disability_grade", st.integers(min_value=0, max_value=4))
    for flag in (
        "urban_security",
        "village_leader",
        "out_of_school",
        "high_fee_school",
        "medical_insured",
    ):
        _maybe(draw, member, flag, st.booleans())
    return member


def _group(draw: st.DrawFn, names: tuple[str, ...], value: st.SearchStrategy[Any]) -> Any:
    chosen = draw(st.lists(st.sampled_from(names), unique=True))
    return {name: draw(value) for name in chosen}


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    size = draw(st.integers(min_value=1, max_value=7))
    region: dict[str, str] = {"county": "652827", "village": "652827100011"}
    if draw(st.booleans()):
        region["town"] = "652827100"
    record: dict[str, Any] = {
        "household_id": draw(st.from_regex(r"[0-9A-Za-z-]{6,12}", fullmatch=True)),
        "region": region,
        "members": [draw(members(k)) for k in range(size)],
    }
    for flag in ("formerly_poor", "relocated", "housing_safe", "drinking_water_safe"):
        _maybe(draw, record, flag, st.booleans())
    if draw(st.booleans()):
        names = ("wage", "business", "property", "transfer", "production_costs")
        record["income"] = _group(draw, names, AMOUNT)
    if draw(st.booleans()):
        names = ("medical_self_paid", "education_self_paid", "disaster_loss", "accident_cost")
        record["expenses"] = _group(draw, names, AMOUNT)
    if draw(st.booleans()):
        names = ("town_property", "vehicle", "machinery", "business_registered", "financial_assets")
        record["assets"] = _group(draw, names, st.booleans())
    if draw(st.booleans()):
        names = (
            "supporters_able",
            "illegal_conduct",
            "unwilling_to_work",
            "refused_asset_check",
            "absent_over_year",
        )
        record["flags"] = _group(draw, names, st.booleans())
    if draw(st.booleans()):
        record["events"] = [
            {"kind": draw(st.sampled_from(EVENTS)), "date": draw(DAY).isoformat()}
            | ({"loss": draw(AMOUNT)} if draw(st.booleans()) else {})
            for _ in range(draw(st.integers(min_value=0, max_value=3)))
        ]
    _maybe(draw, record, "safety_net", st.sampled_from(["none", "dibao", "dibao_full", "tekun"]))
    return record


def encode(record: dict[str, Any], pretty: bool = False) -> bytes:
    if pretty:  # other whitespace, and non-ASCII escaped as \uXXXX
        return json.dumps(record, indent=None, separators=(" , ", " : ")).encode()
    return msgspec.json.encode(record)


# token-level mutations: each keeps the line JSON but may break (or merely re-spell) a value
TOKEN_MUTATIONS: list[tuple[bytes, bytes]] = [
    (b"true", b"null"),
    (b"false", b"0"),
    (b'"rural"', b'"Rural"'),
    (b'"head"', b'"\\u0068ead"'),
    (b'"652827"', b'"65282"'),
    (b'"652827"', b'"65282A"'),
    (b'"652827100011"', b'"652827100011 "'),
    (b'"652827100"', b'"6528271000"'),
    (b"-0", b"-1"),
    (b"-01-", b"-13-"),
    (b"-02-", b"-02-3"),
    (b'-15"', b'-31"'),
    (b'"wage":', b'"wage":-'),
    (b'"wage":', b'"wage":0'),
    (b'"wage":', b'"wage":1e2,"x":'),
    (b'"business":', b'"business":"1",'),
    (b'disability_grade":', b'disability_grade":1.'),
    (b'disability_grade":', b'disability_grade":5'),
    (b'"members":[', b'"members":[],"m":['),
    (b'"members":[', b'"members":['),
    (b'"members":[', b'"members":[null,'),
    (b'"events":[', b'"events":[{}'),
    (b'"region":{', b'"region":{"county":"652827",'),
    (b'"name":"', b'"name":"\\n'),
    (b'"name":"', b'"name":"\x01'),
    (b'"name":"', b'"name":"\xc0\xaf'),
    (b'"name":"', b'"name":"\xed\xa0\x80'),
    (b'"name":"', b'"name":"\xf0\x9f\x98\x80'),
    (b"{", b" {"),
    (b"}", b"} "),
    (b"}", b"}x"),
    (b",", b" ,\t"),
    (b":", b": "),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    line = encode(draw(records()), pretty=draw(st.booleans()))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        kind = draw(st.sampled_from(["token", "token", "delete", "insert", "replace"]))
        if kind == "token":
            old, new = draw(st.sampled_from(TOKEN_MUTATIONS))
            if old in line:
                count = line.count(old)
                which = draw(st.integers(min_value=0, max_value=count - 1))
                parts = line.split(old)
                line = old.join(parts[: which + 1]) + new + old.join(parts[which + 1 :])
            continue
        at = draw(st.integers(min_value=0, max_value=len(line)))
        byte = bytes([draw(st.sampled_from(b'{}[]",:0123456789.-eEtnX\\ \xe4\x80'))])
        if kind == "delete":
            line = line[:at] + line[at + 1 :]
        elif kind == "insert":
            line = line[:at] + byte + line[at:]
        else:
            line = line[:at] + byte + line[at + 1 :]
    return line


def assert_same_screening(lines: list[bytes]) -> None:
    compiled = ruleset()
    fast = screen_bytes(lines, 1, compiled)
    reference = screen_bytes(lines, 1, compiled, columnar=False)
    assert fast.data == reference.data
    assert fast.rejected == reference.rejected


def in_line_order(lines: list[bytes], columnar: bool) -> Population:
    population, origin, _ = population_of_lines(lines, columnar)
    order = np.argsort(np.asarray(origin, dtype=np.int64), kind="stable")
    if not len(order):
        return population
    person_of = np.argsort(order)  # old household row -> new row
    moved = {}
    for name, table in (("person", population.person), ("event", population.event)):
        keys = person_of[table["household"]]
        sort = np.argsort(keys, kind="stable")
        moved[name] = {k: (keys if k == "household" else v)[sort] for k, v in table.items()}
    return Population(
        n=population.n,
        household_id=[population.household_id[i] for i in order],
        household={k: v[order] for k, v in population.household.items()},
        person=moved["person"],
        event=moved["event"],
    )


def assert_same_population(lines: list[bytes]) -> None:
    fast, reference = in_line_order(lines, True), in_line_order(lines, False)
    assert fast.n == reference.n
    assert fast.household_id == reference.household_id
    for name in ("household", "person", "event"):
        mine, theirs = getattr(fast, name), getattr(reference, name)
        assert mine.keys() == theirs.keys(), name
        for key in theirs:
            assert mine[key].dtype == theirs[key].dtype, (name, key)
            np.testing.assert_array_equal(mine[key], theirs[key], err_msg=f"{name}.{key}")


def test_the_examples_screen_alike_and_the_columnar_decoder_takes_the_valid_ones() -> None:
    lines = (SPEC / "screening_in.jsonl").read_bytes().splitlines()
    assert_same_screening(lines)
    assert_same_population(lines)
    taken = len(lines) - len(LINE_DECODER.decode(lines).rejected)
    assert taken == population_of_lines(lines)[0].n  # every valid example taken by the C path


def test_names_escaped_as_ascii_are_taken_by_the_columnar_decoder() -> None:
    # exports written with json.dumps' default ensure_ascii=True escape every Chinese name
    lines = (SPEC / "screening_in.jsonl").read_bytes().splitlines()
    escaped = [json.dumps(json.loads(line)).encode() for line in lines]
    assert any(b"\\u" in line for line in escaped)
    assert LINE_DECODER.decode(escaped).rejected == LINE_DECODER.decode(lines).rejected
    assert_same_screening(escaped)


def test_a_valid_line_the_columnar_decoder_leaves_is_decided_by_the_reference_path() -> None:
    line = (SPEC / "screening_in.jsonl").read_bytes().splitlines()[0]
    escaped = line.replace(b'"H00900"', b'"\\u004800900"', 1)
    assert LINE_DECODER.decode([escaped]).rejected == [0]
    population, origin, errors = population_of_lines([line, escaped, b"{"])
    assert population.household_id == ["H00900", "H00900"] and errors.keys() == {2}
    assert sorted(origin) == [0, 1]
    assert_same_screening([line, escaped, b"{"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records(), min_size=1, max_size=6), st.booleans())
def test_valid_records_screen_alike(batch: list[dict[str, Any]], pretty: bool) -> None:
    lines = [encode(record, pretty) for record in batch]
    assert_same_screening(lines)
    assert_same_population(lines)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(), min_size=1, max_size=4), records())
def test_mutated_records_screen_alike(lines: list[bytes], valid: dict[str, Any]) -> None:
    batch = [*lines, encode(valid)]
    assert_same_screening(batch)
    assert_same_population(batch)


@pytest.mark.parametrize(
    ("text", "taken"),
    [
        ("0", True),
        ("7300", True),
        ("7300.5", True),
        ("0.1", True),
        ("9233.33", True),
        ("123456789012345", True),
        ("123456789012345.6", True),
        ("1234567.0000000001", True),  # 17 digits, above 2**53: read by strtod
        ("999999999999999.99", True),
        ("0.30000000000000004", False),  # 18 digits: left to the reference path
        ("1e3", False),
        ("1234567890123456", False),  # 16 integer digits
    ],
)
def test_amounts_are_read_to_the_same_double(text: str, taken: bool) -> None:
    line = (SPEC / "screening_in.jsonl").read_bytes().splitlines()[0]
    record = json.loads(line)
    record["income"] = {"wage": 0}
    changed = encode(record).replace(b'"wage":0', b'"wage":' + text.encode())
    assert LINE_DECODER.decode([changed]).rejected == ([] if taken else [0])
    wage = population_of_lines([changed])[0].household["wage"][0]
    assert np.float64(wage).tobytes() == np.float64(float(text)).tobytes()
    assert_same_screening([changed])
