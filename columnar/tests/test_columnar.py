"""The columnar decoder against the reference (msgspec plus the string shape and check-digit
checks) on a toy schema: a line is taken only if the reference accepts it, with the same values;
every other line is rejected and rolled back; no bytes make it crash."""

from __future__ import annotations

import json
import random
from datetime import date
from typing import Annotated, Any, Literal

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec import UNSET, Meta, Struct, UnsetType

from fangpin_columnar import CheckDigit, ColumnarDecoder, Columns, TextShape, UnsupportedSchema

# ---- the toy schema ---------------------------------------------------------------------------

Amount = Annotated[float, Meta(ge=0)]
Grade = Annotated[int, Meta(ge=0, le=4)]
Name = Annotated[str, Meta(min_length=1, max_length=5)]


class Money(Struct, forbid_unknown_fields=True, kw_only=True):
    wage: Amount = 0.0
    pension: Amount = 2.5


class Person(Struct, forbid_unknown_fields=True, kw_only=True):
    card: str
    name: Name
    born: date
    grade: Grade = 0
    role: Literal["head", "spouse", "child"] = "child"
    insured: bool = True
    nick: str | UnsetType = UNSET


class Event(Struct, forbid_unknown_fields=True, kw_only=True):
    kind: Literal["flood", "fire", "theft"]
    when: date
    loss: Amount | UnsetType = UNSET


class Home(Struct, forbid_unknown_fields=True, kw_only=True):
    id: str
    since: date
    name: Name
    grade: Grade = 1
    money: Money = msgspec.field(default_factory=Money)
    poor: bool = False
    safe: bool = True
    level: Literal["none", "low", "high"] = "low"
    note: str | UnsetType = UNSET
    people: Annotated[list[Person], Meta(min_length=1, max_length=3)]
    events: list[Event] = msgspec.field(default_factory=list)


ID_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-"
ID_SHAPE = TextShape(ID_CHARS.encode(), 6, 12)
CARD_SHAPE = TextShape(b"0123456789", 18, 18, b"X")
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
CARD_CHECK = CheckDigit(WEIGHTS, CHECK_CHARS)

LEVEL = {"none": 0, "low": 5, "high": 9}
ROLE = {"head": 3, "spouse": 1, "child": 2}
KIND = {"flood": 7, "fire": 0, "theft": 1}
ROOT_KEEP: dict[str, dict[str, int] | None] = {
    "id": None,
    "since": None,
    "name": None,
    "grade": None,
    "money.wage": None,
    "money.pension": None,
    "poor": None,
    "safe": None,
    "level": LEVEL,
    "people": None,
    "events": None,
}
PEOPLE_KEEP: dict[str, dict[str, int] | None] = {
    "people.card": None,
    "people.name": None,
    "people.born": None,
    "people.grade": None,
    "people.role": ROLE,
    "people.insured": None,
}
EVENTS_KEEP: dict[str, dict[str, int] | None] = {"events.kind": KIND, "events.when": None}
KEEP = {**ROOT_KEEP, **PEOPLE_KEEP, **EVENTS_KEEP}
TABLES = {"": ROOT_KEEP, "people": PEOPLE_KEEP, "events": EVENTS_KEEP}
DTYPES = {
    "since": np.int64,
    "grade": np.int8,
    "money.wage": np.float64,
    "money.pension": np.float64,
    "poor": np.bool_,
    "safe": np.bool_,
    "level": np.int8,
    "people": np.int64,
    "events": np.int64,
    "people.born": np.int64,
    "people.grade": np.int8,
    "people.role": np.int8,
    "people.insured": np.bool_,
    "events.kind": np.int8,
    "events.when": np.int64,
}
STRINGS = {"id", "name", "people.card", "people.name"}


def make_decoder() -> ColumnarDecoder:
    return ColumnarDecoder(
        Home,
        keep=KEEP,
        shapes={"id": ID_SHAPE, "people.card": CARD_SHAPE},
        check_digits={"people.card": CARD_CHECK},
    )


DECODER = make_decoder()
REFERENCE = msgspec.json.Decoder(Home)

# ---- the reference ----------------------------------------------------------------------------


def fits(text: str, shape: TextShape) -> bool:
    """The TextShape check of the reference path: length in characters, then characters."""
    if not shape.low <= len(text) <= shape.high or not text:
        return False
    inner, last = shape.chars.decode(), (shape.chars + shape.last_only).decode()
    return all(ch in inner for ch in text[:-1]) and text[-1] in last


def check_digit_ok(text: str) -> bool:
    digits = text[:17]
    if len(text) != 18 or any(ch not in "0123456789" for ch in digits):
        return False
    total = sum(int(d) * w for d, w in zip(digits, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11] == text[17]


def reference(line: bytes) -> Home | None:
    """The household the reference path accepts for `line`, or None."""
    try:
        home = REFERENCE.decode(line)
    except ValueError:  # msgspec.DecodeError / ValidationError, UnicodeDecodeError
        return None
    if not fits(home.id, ID_SHAPE):
        return None
    if not all(fits(p.card, CARD_SHAPE) and check_digit_ok(p.card) for p in home.people):
        return None
    return home


def value_of(obj: Any, path: str) -> Any:
    """The column value of `path` for `obj`, a decoded struct of the path's table."""
    names = path.split(".")
    if len(names) > 1 and names[0] in TABLES:  # a field of a list element
        names = names[1:]
    value = obj
    for name in names:
        value = getattr(value, name)
    codes = KEEP[path]
    if codes is not None:
        return codes[value]
    if isinstance(value, date):
        return value.toordinal()
    if isinstance(value, list):
        return len(value)
    return value


def expected(homes: list[Home]) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """The tables and parent arrays the decoder must give for `homes` (in order)."""
    rows: dict[str, list[tuple[int, Any]]] = {
        "": list(enumerate(homes)),
        "people": [(k, p) for k, h in enumerate(homes) for p in h.people],
        "events": [(k, e) for k, h in enumerate(homes) for e in h.events],
    }
    tables: dict[str, dict[str, Any]] = {}
    for table, keep in TABLES.items():
        columns: dict[str, Any] = {}
        for path in keep:
            values = [value_of(obj, path) for _, obj in rows[table]]
            columns[path] = values if path in STRINGS else np.array(values, dtype=DTYPES[path])
        tables[table] = columns
    parents = {t: np.array([k for k, _ in rows[t]], dtype=np.int64) for t in ("people", "events")}
    return tables, parents


def assert_columns(columns: Columns, homes: list[Home]) -> None:
    """Every kept column (and parent array) of `columns` holds exactly the values of `homes`."""
    tables, parents = expected(homes)
    assert columns.tables.keys() == tables.keys()
    assert columns.parents.keys() == parents.keys()
    for table, want in tables.items():
        got = columns.tables[table]
        assert got.keys() == want.keys()
        for path, values in want.items():
            column = got[path]
            assert columns[path] is column
            if path in STRINGS:
                assert isinstance(column, list)
                assert column == values, path
                assert all(type(v) is str for v in column)
                continue
            assert isinstance(column, np.ndarray)
            assert column.dtype == values.dtype, path
            if column.dtype == np.float64:  # bit-identical
                assert column.view(np.uint64).tolist() == values.view(np.uint64).tolist(), path
            else:
                assert column.tolist() == values.tolist(), path
    for table, want in parents.items():
        got = columns.parents[table]
        assert got.dtype == np.int64
        assert got.tolist() == want.tolist()


def assert_empty(columns: Columns) -> None:
    for table in columns.tables.values():
        assert all(len(column) == 0 for column in table.values())
    assert all(len(parents) == 0 for parents in columns.parents.values())


def check_line(line: bytes) -> None:
    """One line alone: rejected with nothing left behind, or taken with the reference values."""
    columns = DECODER.decode([line])
    ref = reference(line)
    if columns.rejected:
        assert columns.rejected == [0]
        assert_empty(columns)
    else:
        assert ref is not None, line
        assert_columns(columns, [ref])


# ---- building lines ---------------------------------------------------------------------------


def raw(text: str) -> msgspec.Raw:
    """JSON text written as is (numbers exactly as given, or anything broken)."""
    return msgspec.Raw(text)


def dump(obj: Any, space: str = "", order: random.Random | None = None) -> str:
    """JSON text of `obj` (raw pieces verbatim, strings unescaped where JSON allows)."""
    if isinstance(obj, msgspec.Raw):
        return bytes(obj).decode()
    if isinstance(obj, dict):
        items = list(obj.items())
        if order is not None:
            order.shuffle(items)
        body = f",{space}".join(
            f"{json.dumps(k, ensure_ascii=False)}{space}:{space}{dump(v, space, order)}"
            for k, v in items
        )
        return f"{{{space}{body}{space}}}"
    if isinstance(obj, list):
        return "[" + f",{space}".join(dump(v, space, order) for v in obj) + "]"
    if isinstance(obj, date):
        return f'"{obj.isoformat()}"'
    return json.dumps(obj, ensure_ascii=False)


def encode(obj: Any, space: str = "", order: random.Random | None = None) -> bytes:
    return dump(obj, space, order).encode("utf-8", "surrogatepass")


def card(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return first17 + CHECK_CHARS[total % 11]


def other_check(text: str) -> str:
    return CHECK_CHARS[(CHECK_CHARS.index(text[-1]) + 1) % 11]


CARD_A = card("11010519491231002")
CARD_B = card("44030420100101123")
CARD_X = next(c for n in range(10**16, 10**16 + 100) if (c := card(str(n))).endswith("X"))


def base() -> dict[str, Any]:
    return {
        "id": "HH-0001",
        "since": "2020-05-17",
        "name": "李四",
        "grade": 2,
        "money": {"wage": raw("1234.5"), "pension": raw("0.1")},
        "poor": True,
        "safe": False,
        "level": "high",
        "note": "ok",
        "people": [
            {
                "card": CARD_A,
                "name": "Ann",
                "born": "1980-01-31",
                "grade": 3,
                "role": "head",
                "insured": False,
                "nick": "A",
            },
            {"card": CARD_B, "name": "Bo", "born": "2010-12-01"},
        ],
        "events": [{"kind": "flood", "when": "2023-07-01", "loss": raw("12.25")}],
    }


BASE = encode(base())


def with_(path: str, value: Any = ..., record: dict[str, Any] | None = None) -> bytes:
    """The base line with `path` (like `people.0.name`) set to `value` (`...`: removed)."""
    record = record if record is not None else base()
    *head, last = path.split(".")
    node: Any = record
    for name in head:
        node = node[int(name)] if isinstance(node, list) else node[name]
    if value is ...:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return encode(record)


def replaced(old: bytes, new: bytes) -> bytes:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


# ---- 1. one valid line ------------------------------------------------------------------------


def test_valid_line_every_column() -> None:
    columns = DECODER.decode([BASE])
    assert columns.rejected == []
    root = columns.tables[""]
    assert root["id"] == ["HH-0001"]
    assert root["name"] == ["李四"]
    assert root["since"].dtype == np.int64
    assert root["since"].tolist() == [date(2020, 5, 17).toordinal()]
    assert root["grade"].dtype == np.int8 and root["grade"].tolist() == [2]
    assert root["money.wage"].dtype == np.float64 and root["money.wage"].tolist() == [1234.5]
    assert root["money.pension"].tolist() == [0.1]
    assert root["poor"].dtype == np.bool_ and root["poor"].tolist() == [True]
    assert root["safe"].dtype == np.bool_ and root["safe"].tolist() == [False]
    assert root["level"].dtype == np.int8 and root["level"].tolist() == [LEVEL["high"]]
    assert root["people"].dtype == np.int64 and root["people"].tolist() == [2]
    assert root["events"].dtype == np.int64 and root["events"].tolist() == [1]
    people = columns.tables["people"]
    assert people["people.card"] == [CARD_A, CARD_B]
    assert people["people.name"] == ["Ann", "Bo"]
    assert people["people.born"].tolist() == [
        date(1980, 1, 31).toordinal(),
        date(2010, 12, 1).toordinal(),
    ]
    assert people["people.grade"].dtype == np.int8
    assert people["people.grade"].tolist() == [3, 0]  # the second takes the default
    assert people["people.role"].dtype == np.int8
    assert people["people.role"].tolist() == [ROLE["head"], ROLE["child"]]
    assert people["people.insured"].tolist() == [False, True]
    assert columns.parents["people"].dtype == np.int64
    assert columns.parents["people"].tolist() == [0, 0]
    events = columns.tables["events"]
    assert events["events.kind"].tolist() == [KIND["flood"]]
    assert events["events.when"].tolist() == [date(2023, 7, 1).toordinal()]
    assert columns.parents["events"].tolist() == [0]
    assert columns["people.name"] is people["people.name"]
    assert columns["money.wage"] is root["money.wage"]
    assert_columns(columns, [REFERENCE.decode(BASE)])


def test_defaults_of_missing_fields_and_objects() -> None:
    minimal = {
        "id": "abcdef",
        "since": "2000-02-29",
        "name": "Z",
        "people": [{"card": CARD_X, "name": "Q", "born": "1999-12-31"}],
    }
    lines = [encode(minimal), encode({**minimal, "money": {}}), encode(minimal, space="\r\n\t ")]
    columns = DECODER.decode(lines)
    assert columns.rejected == []
    root = columns.tables[""]
    assert root["grade"].tolist() == [1, 1, 1]
    assert root["money.wage"].tolist() == [0.0, 0.0, 0.0]
    assert root["money.pension"].tolist() == [2.5, 2.5, 2.5]
    assert root["poor"].tolist() == [False] * 3
    assert root["safe"].tolist() == [True] * 3
    assert root["level"].tolist() == [LEVEL["low"]] * 3  # the default's code from `keep`
    assert root["events"].tolist() == [0, 0, 0]
    people = columns.tables["people"]
    assert people["people.card"] == [CARD_X] * 3
    assert people["people.grade"].tolist() == [0, 0, 0]
    assert people["people.role"].tolist() == [ROLE["child"]] * 3
    assert people["people.insured"].tolist() == [True] * 3
    assert columns.parents["people"].tolist() == [0, 1, 2]
    assert len(columns.parents["events"]) == 0
    assert_columns(columns, [REFERENCE.decode(line) for line in lines])


def test_default_codes_follow_keep() -> None:
    decoder = ColumnarDecoder(Home, keep={"level": {"none": 2, "low": 0, "high": 1}})
    columns = decoder.decode([with_("level"), with_("level", "none"), with_("level", "high")])
    assert columns.tables[""]["level"].tolist() == [0, 2, 1]
    assert columns.tables["people"] == {} and len(columns.parents["people"]) == 2 * 3


def test_empty_batch_and_reuse() -> None:
    columns = DECODER.decode([])
    assert columns.rejected == []
    assert_columns(columns, [])
    with pytest.raises(TypeError):
        DECODER.decode([BASE, "not bytes"])  # type: ignore[list-item]
    assert_columns(DECODER.decode([BASE]), [REFERENCE.decode(BASE)])  # nothing left over


# ---- 2. a batch of valid and invalid lines ----------------------------------------------------


def test_batch_rejects_and_rolls_back() -> None:
    person = base()["people"][1]
    three = base()
    three["id"] = "third-1"
    three["people"] = [person, {**person, "name": "Cy"}, {**person, "name": "Di"}]
    three["events"] = [
        {"kind": "fire", "when": "2021-01-01"},
        {"kind": "theft", "when": "2022-02-02"},
    ]
    # rejected only after its lists were read: their rows must be rolled back
    late = base()
    late["id"] = "late-1"
    del late["poor"]
    late["poor"] = None  # last, after both lists
    inside = base()
    inside["id"] = "inside"
    inside["people"][1]["card"] = CARD_B[:-1] + other_check(CARD_B)  # after person 0
    one = with_("people", [person])
    lines = [BASE, encode(late), one, encode(inside), encode(three), b"", BASE]
    columns = DECODER.decode(lines)
    assert columns.rejected == [1, 3, 5]
    taken = [REFERENCE.decode(lines[k]) for k in (0, 2, 4, 6)]
    assert [reference(lines[k]) for k in (1, 3, 5)] == [None, None, None]
    assert_columns(columns, taken)
    assert columns.tables[""]["id"] == ["HH-0001", "HH-0001", "third-1", "HH-0001"]
    assert columns.parents["people"].tolist() == [0, 0, 1, 2, 2, 2, 3, 3]
    names = ["Ann", "Bo", "Bo", "Bo", "Cy", "Di", "Ann", "Bo"]
    assert columns.tables["people"]["people.name"] == names
    assert columns.parents["events"].tolist() == [0, 1, 2, 2, 3]
    assert columns.tables["events"]["events.kind"].tolist() == [7, 7, 0, 1, 7]


# ---- 3. what is rejected (and a few edge cases that are taken) --------------------------------

REJECTED: list[tuple[str, bytes, bool]] = [
    # (case, line, whether the reference accepts it: True for the decoder's conservative cases)
    ("unknown key", with_("color", "red"), False),
    ("unknown key in object", with_("money.bonus", 1), False),
    ("unknown key in list element", with_("people.1.age", 3), False),
    ("duplicate key", replaced(b'"poor":true', b'"poor":true,"poor":true'), True),
    ("duplicate key in list element", replaced(b'"nick":"A"', b'"nick":"A","nick":"B"'), True),
    ("missing id", with_("id"), False),
    ("missing date", with_("since"), False),
    ("missing list", with_("people"), False),
    ("missing field of list element", with_("people.0.card"), False),
    ("missing Literal of list element", with_("events.0.kind"), False),
    ("null bool", with_("poor", None), False),
    ("null optional string", with_("note", None), False),
    ("null object", with_("money", None), False),
    ("null float", with_("money.wage", None), False),
    ("bool as string", with_("poor", "true"), False),
    ("bool as number", with_("poor", 1), False),
    ("int as string", with_("grade", "2"), False),
    ("string as number", with_("name", 5), False),
    ("float as string", with_("money.wage", "1.5"), False),
    ("object as list", with_("money", []), False),
    ("list as object", with_("people", {}), False),
    ("date as number", with_("since", 20200517), False),
    ("list element as string", with_("people", ["x"]), False),
    ("negative int", with_("grade", -1), False),
    ("negative float", with_("money.wage", raw("-1.5")), False),
    ("minus zero int", with_("grade", raw("-0")), True),
    ("minus zero float", with_("money.wage", raw("-0.0")), True),
    ("plus sign", with_("money.wage", raw("+1")), False),
    ("exponent", with_("money.wage", raw("1e2")), True),
    ("capital exponent", with_("money.wage", raw("1.5E+2")), True),
    ("exponent on int", with_("grade", raw("1e0")), False),
    ("leading zero", with_("grade", raw("01")), False),
    ("leading zero float", with_("money.wage", raw("00.5")), False),
    ("no fraction digits", with_("money.wage", raw("1.")), False),
    ("no integer digits", with_("money.wage", raw(".5")), False),
    ("NaN", with_("money.wage", raw("NaN")), False),
    ("Infinity", with_("money.wage", raw("Infinity")), False),
    ("16 integer digits", with_("money.wage", raw("1234567890123456")), True),
    ("18 digits", with_("money.wage", raw("1.23456789012345678")), True),
    ("int given 2.0", with_("grade", raw("2.0")), False),
    ("int above le", with_("grade", 5), False),
    ("int far above le", with_("people.0.grade", raw("9" * 15)), False),
    ("int of 16 digits", with_("people.0.grade", raw("1" * 16)), False),
    ("Literal not in list", with_("level", "medium"), False),
    ("Literal of list element not in list", with_("people.0.role", "boss"), False),
    ("Literal as prefix", with_("level", "hig"), False),
    ("Literal escaped", replaced(b'"level":"high"', b'"level":"hig\\u0068"'), True),
    ("29 February of a common year", with_("since", "2023-02-29"), False),
    ("29 February 1900", with_("since", "1900-02-29"), False),
    ("month 13", with_("since", "2024-13-01"), False),
    ("month 0", with_("since", "2024-00-10"), False),
    ("day 0", with_("since", "2024-01-00"), False),
    ("31 April", with_("people.1.born", "2024-04-31"), False),
    ("year 0", with_("since", "0000-01-01"), False),
    ("one-digit month", with_("since", "2024-1-01"), False),
    ("date without dashes", with_("since", "20240101"), False),
    ("date with time", with_("since", "2024-01-01T00:00:00"), False),
    ("date with slashes", with_("since", "2024/01/01"), False),
    ("string escape", replaced(b'"Ann"', b'"\\u0041nn"'), True),
    ("escape in key", replaced(b'"safe"', b'"s\\u0061fe"'), True),
    ("escape in a date", replaced(b'"2020-05-17"', b'"2020\\u002d05-17"'), True),
    ("escape in a checked string", replaced(b'"HH-0001"', b'"HH\\u002d0001"'), True),
    ("lone high surrogate escape", with_("note", raw('"\\ud800"')), False),
    ("high surrogate escape then a character", with_("note", raw('"\\ud83dx"')), False),
    ("high surrogate escape then another escape", with_("note", raw('"\\ud83d\\n"')), False),
    ("low surrogate escape first", with_("note", raw('"\\ude00\\ud83d"')), False),
    ("unknown escape", with_("note", raw('"\\x"')), False),
    ("short unicode escape", with_("note", raw('"\\u12"')), False),
    ("unicode escape with a non-hex digit", with_("note", raw('"\\u12g4"')), False),
    ("backslash at the end", with_("note", raw('"a\\"')), False),
    ("control character", with_("note", raw('"a\x01b"')), False),
    ("raw tab", with_("people.0.name", raw('"A\tn"')), False),
    ("raw newline", with_("name", raw('"A\nB"')), False),
    ("invalid UTF-8", replaced(b'"Ann"', b'"A\xffn"'), False),
    ("overlong UTF-8", replaced(b'"Ann"', b'"A\xc0\xafn"'), False),
    ("overlong 3-byte UTF-8", replaced(b'"Ann"', b'"A\xe0\x80\xafn"'), False),
    ("surrogate in UTF-8", replaced(b'"Ann"', b'"A\xed\xa0\x80n"'), False),
    ("above U+10FFFF", replaced(b'"Ann"', b'"A\xf4\x90\x80\x80n"'), False),
    ("lone continuation byte", replaced(b'"Ann"', b'"A\x80n"'), False),
    ("truncated UTF-8", replaced(b'"Ann"', b'"An\xe6\x9d"'), False),
    ("invalid UTF-8 in key", replaced(b'"safe"', b'"saf\xe9"'), False),
    ("empty name", with_("name", ""), False),
    ("6-character name", with_("name", "abcdef"), False),
    ("6 CJK characters", with_("people.0.name", "张三李四王五"), False),
    ("empty list", with_("people", []), False),
    ("list too long", with_("people", base()["people"] * 2), False),
    ("bad check digit", with_("people.0.card", CARD_A[:-1] + other_check(CARD_A)), False),
    ("lowercase x check", with_("people.0.card", CARD_X[:-1] + "x"), False),
    ("X inside", with_("people.0.card", "X" + CARD_A[1:]), False),
    ("17-character card", with_("people.0.card", CARD_A[:17]), False),
    ("id too short", with_("id", "abcde"), False),
    ("id too long", with_("id", "a" * 13), False),
    ("id with underscore", with_("id", "HH_0001"), False),
    ("id with CJK", with_("id", "HH-00一"), False),
    ("trailing characters", BASE + b"x", False),
    ("second object", BASE + b"{}", False),
    ("trailing comma", BASE[:-1] + b",}", False),
    ("trailing comma in list", replaced(b"12.25}]", b"12.25},]"), False),
    ("comment", replaced(b'"poor"', b'/* c */"poor"'), False),
    ("missing colon", replaced(b'"poor":', b'"poor" '), False),
    ("missing comma", replaced(b'true,"safe"', b'true "safe"'), False),
    ("empty line", b"", False),
    ("whitespace only", b" \t\r\n", False),
    ("top-level array", b"[" + BASE + b"]", False),
    ("top-level null", b"null", False),
    ("top-level string", b'"HH-0001"', False),
    ("empty object", b"{}", False),
    ("byte order mark", b"\xef\xbb\xbf" + BASE, False),
    ("NUL after", BASE + b"\x00", False),
]

TAKEN: list[tuple[str, bytes]] = [
    ("base", BASE),
    ("29 February 2024", with_("since", "2024-02-29")),
    ("29 February 2000", with_("people.1.born", "2000-02-29")),
    ("first and last dates", with_("since", "0001-01-01").replace(b"1980-01-31", b"9999-12-31")),
    ("5 CJK characters", with_("name", "张三李四王")),
    ("5 astral characters", with_("people.0.name", "😀𝄞😀𝄞😀")),
    ("DEL character", with_("note", "\x7f")),
    ("escaped quote in a free string", with_("note", 'say "hi"')),
    ("escaped slash in a free string", replaced(b'"ok"', b'"o\\/k"')),
    (
        "every escape in a free string",
        with_("people.0.nick", raw('"\\u00e9\\n\\t\\"\\\\\\/\\b\\f\\r\\ud83d\\uDE00\\u0000"')),
    ),
    ("X check character", with_("people.1.card", CARD_X)),
    ("int as float", with_("money.wage", 15)),
    ("zero", with_("money.pension", raw("0"))),
    ("zero point zero", with_("money.pension", raw("0.0"))),
    ("15 integer digits", with_("money.wage", raw("999999999999999.99"))),
    ("17 digits", with_("money.wage", raw("1.2345678901234567"))),
    ("tiny", with_("money.wage", raw("0.0000000000000001"))),
    ("empty object", with_("money", {})),
    ("no events", with_("events", [])),
    ("spaces in lists", replaced(b'"events":[{', b'"events":[ {').replace(b"}]}", b"} ] }")),
    ("whitespace", encode(base(), space=" \t\r\n")),
    ("surrounding whitespace", b" \r\n\t" + BASE + b"\n \t"),
    ("keys in another order", encode(base(), order=random.Random(7))),
    ("keys in yet another order", encode(base(), order=random.Random(8))),
    ("grade 0 and 4", with_("grade", 0).replace(b'"grade":3', b'"grade":4')),
    ("longest id", with_("id", "-" * 12)),
]


@pytest.mark.parametrize(
    ("line", "accepted"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED]
)
def test_rejected(line: bytes, accepted: bool) -> None:
    columns = DECODER.decode([BASE, line, BASE])
    assert columns.rejected == [1]
    assert (reference(line) is not None) == accepted
    ref = REFERENCE.decode(BASE)
    assert_columns(columns, [ref, ref])


@pytest.mark.parametrize("line", [c[1] for c in TAKEN], ids=[c[0] for c in TAKEN])
def test_taken(line: bytes) -> None:
    columns = DECODER.decode([line])
    assert columns.rejected == []
    ref = reference(line)
    assert ref is not None
    assert_columns(columns, [ref])


def test_every_truncation_rejected() -> None:
    for line in (BASE, encode(base(), space=" "), with_("name", "张三李四王")):
        prefixes = [line[:k] for k in range(len(line))]
        assert all(reference(p) is None for p in prefixes)
        columns = DECODER.decode([*prefixes, line])
        assert columns.rejected == list(range(len(line)))
        assert_columns(columns, [REFERENCE.decode(line)])


# ---- 4. schemas the decoder does not take -----------------------------------------------------


class WithDict(Struct, kw_only=True):
    id: str
    extra: dict[str, int] = msgspec.field(default_factory=dict)


class WithPattern(Struct, kw_only=True):
    id: Annotated[str, Meta(pattern="^[a-z]+$")]


class WithUnion(Struct, kw_only=True):
    value: int | str = 0


class WithNone(Struct, kw_only=True):
    value: str | None = None


class WithSignedInt(Struct, kw_only=True):
    value: Annotated[int, Meta(ge=-1)] = 0


class WithFloat(Struct, kw_only=True):
    value: float = 0.0


class WithStrDefault(Struct, kw_only=True):
    value: str = "x"


class WithObjectDefault(Struct, kw_only=True):
    money: Money = msgspec.field(default_factory=lambda: Money(wage=5.0))


class WithOptionalObject(Struct, kw_only=True):
    money: Money | UnsetType = UNSET


class WithListDefault(Struct, kw_only=True):
    events: list[Event] = msgspec.field(
        default_factory=lambda: [Event(kind="fire", when=date(2020, 1, 1))]
    )


class ArrayLike(Struct, array_like=True):
    value: int = 0


@pytest.mark.parametrize(
    ("struct", "keep", "options"),
    [
        pytest.param(Home, {"money": None}, {}, id="keep an object"),
        pytest.param(Home, {"note": None}, {}, id="kept optional without default"),
        pytest.param(Home, {"people.nick": None}, {}, id="kept optional in a list"),
        pytest.param(Home, {"level": {"none": 0, "low": 1}}, {}, id="codes missing a value"),
        pytest.param(Home, {"level": {**LEVEL, "mid": 3}}, {}, id="codes of unknown values"),
        pytest.param(Home, {"level": {**LEVEL, "high": 200}}, {}, id="codes beyond int8"),
        pytest.param(Home, {"nope": None}, {}, id="unknown kept path"),
        pytest.param(Home, {"money.nope": None}, {}, id="unknown kept nested path"),
        pytest.param(Home, {"people.nope": None}, {}, id="unknown kept list path"),
        pytest.param(Home, {}, {"shapes": {"nope": ID_SHAPE}}, id="unknown shape path"),
        pytest.param(
            Home, {}, {"check_digits": {"people.nope": CARD_CHECK}}, id="unknown check path"
        ),
        pytest.param(WithDict, {"id": None}, {}, id="dict field"),
        pytest.param(WithPattern, {"id": None}, {}, id="pattern without shape"),
        pytest.param(WithUnion, {}, {}, id="union"),
        pytest.param(WithNone, {}, {}, id="union with None"),
        pytest.param(Home, {"level": {**LEVEL, "high": -1}}, {}, id="negative code"),
        pytest.param(
            Home, {}, {"shapes": {"id": TextShape("李".encode(), 1, 3)}}, id="non-ASCII shape"
        ),
        pytest.param(WithSignedInt, {}, {}, id="negative int"),
        pytest.param(WithFloat, {}, {}, id="float without ge"),
        pytest.param(WithStrDefault, {"value": None}, {}, id="kept str with a default"),
        pytest.param(WithObjectDefault, {"money.wage": None}, {}, id="object default"),
        pytest.param(WithOptionalObject, {"money.wage": None}, {}, id="optional object"),
        pytest.param(WithListDefault, {}, {}, id="list default"),
        pytest.param(ArrayLike, {}, {}, id="array-like"),
        pytest.param(Money | None, {}, {}, id="not a struct"),
    ],
)
def test_unsupported_schema(struct: Any, keep: dict[str, Any], options: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedSchema):
        ColumnarDecoder(struct, keep=keep, **options)


def test_supported_variants() -> None:
    """Near the unsupported cases: fields checked but not kept, a pattern with its shape."""
    for struct, line in ((WithStrDefault, b"{}"), (WithOptionalObject, b'{"money":{"wage":1}}')):
        columns = ColumnarDecoder(struct, keep={}).decode([line, b'{"value":1}', b"{}"])
        assert columns.rejected == [1]
        assert columns.tables == {"": {}}
    decoder = ColumnarDecoder(
        WithPattern,
        keep={"id": None},
        shapes={"id": TextShape(b"abcdefghijklmnopqrstuvwxyz", 1, 9)},
    )
    assert decoder.decode([b'{"id":"abc"}']).tables[""]["id"] == ["abc"]

    class Dated(Struct, kw_only=True):
        day: date = date(2024, 2, 29)

    columns = ColumnarDecoder(Dated, keep={"day": None}).decode([b"{}", b'{"day":"0001-01-01"}'])
    assert columns.tables[""]["day"].tolist() == [date(2024, 2, 29).toordinal(), 1]


# ---- 5. any bytes, and mutations of valid lines -----------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["2024-02-29", "2023-02-29", "head", "flood", "high", CARD_A, "HH-0001"])
    | st.integers(0, 5)
    | st.decimals(0, 10**6, places=3).map(lambda d: raw(str(d))),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["wage", "pension", "card", "name", "born", "kind", "when"])
            | st.text(),
            children,
            max_size=4,
        )
    ),
    max_leaves=8,
)
FIELD_PATHS = [
    "id",
    "since",
    "name",
    "grade",
    "money",
    "money.wage",
    "money.pension",
    "poor",
    "safe",
    "level",
    "note",
    "people",
    "people.0",
    "people.0.card",
    "people.0.name",
    "people.0.born",
    "people.0.grade",
    "people.0.role",
    "people.0.insured",
    "people.1.nick",
    "people.1.card",
    "events",
    "events.0",
    "events.0.kind",
    "events.0.when",
    "events.0.loss",
    "extra",
    "money.extra",
]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64) | st.binary(max_size=16).map(lambda b: b'{"id":"' + b))
def test_any_bytes(line: bytes) -> None:
    check_line(line)


@st.composite
def mutated_lines(draw: st.DrawFn) -> bytes:
    record = base()
    for _ in range(draw(st.sampled_from([0, 1, 1, 2]))):
        path = draw(st.sampled_from(FIELD_PATHS))
        value = draw(st.just(...) | json_values)
        try:
            with_(path, value, record)  # sets it in `record`
        except (KeyError, IndexError, TypeError, ValueError):  # not there
            continue
    line = encode(record, space=draw(st.sampled_from(["", " ", "\n"])))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
        at = draw(st.integers(0, len(line)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(
            st.binary(min_size=1, max_size=3) | st.sampled_from(list(b'{}[]":,0-.e\\ X9a'))
        )
        if isinstance(piece, int):
            piece = bytes([piece])
        if op == "insert":
            line = line[:at] + piece + line[at:]
        elif op == "delete":
            line = line[:at] + line[at + draw(st.integers(1, 4)) :]
        else:
            line = line[:at] + piece + line[at + len(piece) :]
    return line


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_lines())
def test_mutated_lines(line: bytes) -> None:
    check_line(line)


# ---- 6. floats --------------------------------------------------------------------------------


@st.composite
def decimal_texts(draw: st.DrawFn) -> str:
    whole = str(draw(st.integers(0, 10**15 - 1) | st.integers(0, 9) | st.just(0)))
    if draw(st.booleans()):
        return whole
    room = 17 - len(whole)
    fraction = draw(st.text("0123456789", min_size=1, max_size=max(room, 1)))
    return f"{whole}.{fraction}"


FLOATS = ColumnarDecoder(Money, keep={"wage": None, "pension": None})


@settings(max_examples=300, deadline=None)
@given(st.lists(decimal_texts(), min_size=1, max_size=20))
def test_floats_bit_identical(texts: list[str]) -> None:
    lines = [f'{{"wage":{text},"pension":{text}}}'.encode() for text in texts]
    columns = FLOATS.decode(lines)
    fits_17 = [len(t.replace(".", "")) <= 17 for t in texts]
    assert columns.rejected == [k for k, ok in enumerate(fits_17) if not ok]
    taken = [t for t, ok in zip(texts, fits_17, strict=True) if ok]
    want = np.array([float(t) for t in taken], dtype=np.float64).view(np.uint64).tolist()
    assert [msgspec.json.decode(t.encode()) for t in taken] == [float(t) for t in taken]
    assert columns.tables[""]["wage"].view(np.uint64).tolist() == want
    assert columns.tables[""]["pension"].view(np.uint64).tolist() == want


def test_hard_floats() -> None:
    texts = [
        "9007199254740993",  # 2^53 + 1, 16 integer digits: rejected
        "0.1",
        "0.30000000000000004",  # 18 digits: rejected
        "0.3000000000000000",
        "2.2250738585072014",
        "123456789012345.67",
        "999999999999999.9",
        "1.0000000000000001",  # below half an ulp above 1: 1.0
        "4503599627370496.5",  # 16 integer digits: rejected
        "0.1234567890123456",
        "9.0071992547409935",  # mantissa above 2^53: strtod
        "9.9999999999999999",
        "900719925474099.35",
        "0.0000000000000001",
        "1.7976931348623157",
    ]
    lines = [f'{{"wage":{text}}}'.encode() for text in texts]
    columns = FLOATS.decode(lines)
    taken = [k for k in range(len(texts)) if k not in columns.rejected]
    assert columns.rejected == [0, 2, 8]
    got = columns.tables[""]["wage"].tolist()
    for k, value in zip(taken, got, strict=True):
        assert value == float(texts[k]) == msgspec.json.decode(lines[k], type=Money).wage
        assert np.float64(value).view(np.uint64) == np.float64(float(texts[k])).view(np.uint64)


# ---- 7. a large batch -------------------------------------------------------------------------

NAME_CHARS = "AbzZ 李四王张三😀é\x7f-"
RARE_CHARS = '"\\\n\x01/'


def float_text(rng: random.Random) -> msgspec.Raw:
    whole = str(rng.choice([0, rng.randint(0, 9), rng.randint(0, 10 ** rng.randint(1, 15) - 1)]))
    if rng.random() < 0.3:
        return raw(whole)
    return raw(whole + "." + "".join(rng.choices("0123456789", k=rng.randint(1, 17 - len(whole)))))


def random_date(rng: random.Random) -> str:
    if rng.random() < 0.05:
        return date.fromordinal(rng.randint(1, date.max.toordinal())).isoformat()
    if rng.random() < 0.05:
        return f"{rng.choice([1900, 2000, 2023, 2024])}-02-{rng.choice([28, 29])}"
    return date.fromordinal(rng.randint(693596, 741000)).isoformat()


def random_name(rng: random.Random) -> str:
    chars = NAME_CHARS + (RARE_CHARS if rng.random() < 0.02 else "")
    return "".join(rng.choices(chars, k=rng.randint(1, 5)))


def random_person(rng: random.Random) -> dict[str, Any]:
    person: dict[str, Any] = {
        "card": card("".join(rng.choices("0123456789", k=17))),
        "name": random_name(rng),
        "born": random_date(rng),
    }
    optional = {
        "grade": rng.randint(0, 4),
        "role": rng.choice(list(ROLE)),
        "insured": rng.random() < 0.5,
        "nick": random_name(rng) * rng.randint(0, 3),
    }
    person.update((k, v) for k, v in optional.items() if rng.random() < 0.5)
    return person


def random_home(rng: random.Random) -> dict[str, Any]:
    home: dict[str, Any] = {
        "id": "".join(rng.choices(ID_CHARS, k=rng.randint(6, 12))),
        "since": random_date(rng),
        "name": random_name(rng),
        "people": [random_person(rng) for _ in range(rng.randint(1, 3))],
    }
    money = {k: float_text(rng) for k in ("wage", "pension") if rng.random() < 0.6}
    optional = {
        "grade": rng.randint(0, 4),
        "money": money,
        "poor": rng.random() < 0.5,
        "safe": rng.random() < 0.5,
        "level": rng.choice(list(LEVEL)),
        "note": random_name(rng),
        "events": [
            {"kind": rng.choice(list(KIND)), "when": random_date(rng)}
            | ({"loss": float_text(rng)} if rng.random() < 0.5 else {})
            for _ in range(rng.randint(0, 3))
        ],
    }
    home.update((k, v) for k, v in optional.items() if rng.random() < 0.6)
    return home


BREAKERS = [
    ("grade", 5),
    ("people.0.grade", 9),
    ("people.0.card", "123456789012345678"),
    ("name", "toolong"),
    ("money.wage", raw("-1")),
    ("level", "mid"),
    ("extra", 1),
    ("since", "2023-02-29"),
    ("id", "short"),
    ("people", []),
]


def shuffled(obj: Any, rng: random.Random) -> Any:
    if isinstance(obj, dict):
        items = [(k, shuffled(v, rng)) for k, v in obj.items()]
        rng.shuffle(items)
        return dict(items)
    if isinstance(obj, list):
        return [shuffled(v, rng) for v in obj]
    return obj


def random_line(rng: random.Random) -> bytes:
    record = random_home(rng)
    if rng.random() < 0.1:
        path, value = rng.choice(BREAKERS)
        if path == "money.wage":
            record["money"] = {}
        with_(path, value, record)
    if rng.random() < 0.2:
        record = shuffled(record, rng)
    line = msgspec.json.encode(record)
    return msgspec.json.format(line, indent=rng.choice([0, 1, 2])) if rng.random() < 0.2 else line


@settings(max_examples=150, deadline=None)
@given(st.randoms(use_true_random=False))
def test_generated_lines(rng: random.Random) -> None:
    """Lines without escapes that the reference accepts are all taken, with its values; a
    line the reference rejects never is (lines with escapes may go either way)."""
    line = random_line(rng)
    columns = DECODER.decode([line])
    ref = reference(line)
    if ref is None:
        assert columns.rejected == [0]
    elif b"\\" not in line:
        assert columns.rejected == []
    assert_columns(columns, [ref] if not columns.rejected else [])


def test_large_batch() -> None:
    rng = random.Random(20240229)
    lines = [random_line(rng) for _ in range(10_000)]
    columns = DECODER.decode(lines)
    refs = [reference(line) for line in lines]
    must_reject = {k for k, r in enumerate(refs) if r is None}
    may_reject = {k for k, r in enumerate(refs) if r is not None and b"\\" in lines[k]}
    assert 500 < len(must_reject) + len(may_reject) < 2_000
    rejected = set(columns.rejected)
    assert must_reject <= rejected <= must_reject | may_reject
    homes = [r for k, r in enumerate(refs) if k not in rejected and r is not None]
    assert len(homes) == 10_000 - len(rejected)
    assert sum(len(h.people) for h in homes) == len(columns.parents["people"])
    assert_columns(columns, homes)
