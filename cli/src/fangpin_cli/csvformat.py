"""Household tables (CSV text or sheet rows, one row per member) to and from v1 records.

The columns are those of `fangpin_contracts.household_columns` (English codes or Chinese
names, e.g. `household_id` or 户编号, `member.relation` or 与户主关系): household columns repeat
on every member row or are given on the household's first row only (as merged cells leave
them); member columns are one member per row; the rows of one household are consecutive. An
empty cell means "not given" (the schema default applies). Rows above the header (a title
row) are skipped; so are blank rows. Columns the schema does not know are ignored (the caller
is told which).

Cells are converted by the column's kind: yes/no cells take 是/否, true/false, yes/no, 1/0;
coded cells take the code or its Chinese label (`head` or 户主); dates take 1980-01-11,
1980/1/11, 19800111, 1980年1月11日 or a date cell; amounts take 1234.5 or 1,234.5. A cell that
cannot be converted rejects its household with the row and the field path
(`members[1].relation: 'boss' is not one of head (户主), spouse (配偶), ...`).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from fangpin_cli.unusable import UnusableInput
from fangpin_contracts.household_columns import (
    BOOL_LABELS,
    COLUMNS,
    Column,
    column_named,
    enum_error,
)

HEADER_SEARCH_ROWS: Final = 10
"""How many rows from the top may hold titles before the header row."""

_BOOLS: Final = {label.lower(): value for value, labels in BOOL_LABELS.items() for label in labels}
_DATE_FORMS: Final = (
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"),
    re.compile(r"(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})"),
    re.compile(r"(?P<y>\d{4})\.(?P<m>\d{1,2})\.(?P<d>\d{1,2})"),
    re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"),
    re.compile(r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日?"),
)
_GROUPED: Final = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")
_EVENT_SPLIT: Final = re.compile(r"[;；\n]")
_EVENT_PARTS: Final = re.compile(r"[:：]")
_HOUSEHOLD_ID: Final = COLUMNS[0]
assert _HOUSEHOLD_ID.code == "household_id"


class CellError(ValueError):
    """A cell that cannot be converted: `path: reason` (`members[0].birth_date: ...`)."""


@dataclass(frozen=True)
class Header:
    """Which column each position of the header row holds."""

    columns: tuple[Column | None, ...]
    names: tuple[str, ...]  # the header cells as written
    ignored: tuple[str, ...]  # header cells the schema does not know
    row: int  # the header's row number

    @classmethod
    def parse(cls, cells: Sequence[object], row: int) -> Header:
        """Resolve header cells; UnusableInput when a column is named twice or required
        columns are missing."""
        names = tuple("" if c is None else str(c).strip() for c in cells)
        columns = tuple(column_named(n) if n else None for n in names)
        seen: dict[str, str] = {}
        for name, column in zip(names, columns, strict=True):
            if column is None:
                continue
            if column.code in seen:
                raise UnusableInput(
                    f"header (row {row}): {seen[column.code]!r} and {name!r} both name "
                    f"column {column.code} ({column.zh})"
                )
            seen[column.code] = name
        if _HOUSEHOLD_ID.code not in seen:
            raise UnusableInput(_missing_id_message(row))
        missing = [c for c in COLUMNS if c.required and c.code not in seen]
        if missing:
            raise UnusableInput(
                f"header (row {row}): required columns missing: "
                + ", ".join(f"{c.zh} ({c.code})" for c in missing)
            )
        ignored = tuple(n for n, c in zip(names, columns, strict=True) if n and c is None)
        return cls(columns, names, ignored, row)

    def label(self, column: Column) -> str:
        """How the file names a column (for error texts): its Chinese name if it used that."""
        return column.zh if column.zh in self.names else column.code


def _missing_id_message(row: int | None) -> str:
    where = f" (looked at the first {HEADER_SEARCH_ROWS} rows)" if row is None else ""
    return (
        f"header: a household_id column is required (named household_id or "
        f"{_HOUSEHOLD_ID.zh}){where}"
    )


def find_header(rows: Iterator[tuple[int, Sequence[object]]]) -> Header:
    """The header row: the first of the top `HEADER_SEARCH_ROWS` rows naming household_id
    (rows above it are titles); UnusableInput when there is none."""
    for count, (number, cells) in enumerate(rows):
        if any(
            (column := column_named(str(c))) is not None and column.code == "household_id"
            for c in cells
            if c is not None
        ):
            return Header.parse(cells, number)
        if count + 1 >= HEADER_SEARCH_ROWS:
            break
    raise UnusableInput(_missing_id_message(None))


@dataclass
class TableRecord:
    """A household read from consecutive rows: the record, or the first error with its row."""

    line: int  # the household's first row
    household_id: str | None
    rows: list[int] = field(default_factory=list)  # the row of each member, in order
    record: dict[str, Any] | None = None
    error: str | None = None
    error_line: int | None = None


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(column: Column, path: str, value: object) -> str:
    if isinstance(value, bool):
        raise CellError(f"{path}: {value!r} is not text")
    if isinstance(value, int | float):
        if column.code == "member.id_number":
            raise CellError(
                f"{path}: stored as a number, which keeps only 15 digits: format the column "
                "as text and type the ID number again"
            )
        if isinstance(value, float) and not value.is_integer():
            raise CellError(f"{path}: {value!r} is not a code")
        return str(int(value))
    if isinstance(value, datetime | date):
        raise CellError(f"{path}: a date cell, expected text")
    return str(value).strip()


def _bool(path: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    found = _BOOLS.get(str(value).strip().lower())
    if found is None:
        raise CellError(f"{path}: {value!r} is not one of 是/否 (true/false, yes/no, 1/0)")
    return found


def _int(path: str, value: object) -> int:
    if isinstance(value, bool):
        raise CellError(f"{path}: {value!r} is not an integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise CellError(f"{path}: {value!r} is not an integer") from None


def _number(path: str, value: object) -> float:
    if isinstance(value, bool):
        raise CellError(f"{path}: {value!r} is not a number")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        if _GROUPED.fullmatch(text):
            text = text.replace(",", "")
        try:
            number = float(text)
        except ValueError:
            raise CellError(f"{path}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise CellError(f"{path}: {value!r} is not a number")
    return number


def _date(path: str, value: object) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(int(value)) if isinstance(value, int | float) else str(value).strip()
    for form in _DATE_FORMS:
        if match := form.fullmatch(text):
            try:
                return date(int(match["y"]), int(match["m"]), int(match["d"])).isoformat()
            except ValueError:
                break
    raise CellError(f"{path}: {value!r} is not a date (YYYY-MM-DD)")


def _code(column: Column, path: str, value: object) -> str:
    text = str(value).strip()
    if text in column.values:
        return text
    lowered = text.lower()
    for code in column.values:
        if lowered == code or text in column.labels().get(code, ()):
            return code
    raise CellError(f"{path}: {enum_error(column, text)}")


def _events(column: Column, path: str, value: object) -> list[dict[str, Any]]:
    """`kind:date[:loss]` items separated by `;` (code or label for the kind), or JSON."""
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CellError(f"{path}: not a JSON array ({exc.msg})") from None
        if not isinstance(parsed, list):
            raise CellError(f"{path}: not a JSON array")
        return parsed
    events = []
    for item in (p.strip() for p in _EVENT_SPLIT.split(text)):
        if not item:
            continue
        parts = [p.strip() for p in _EVENT_PARTS.split(item)]
        if len(parts) not in (2, 3):
            raise CellError(f"{path}[{len(events)}]: {item!r} is not kind:date[:loss]")
        where = f"{path}[{len(events)}]"
        event: dict[str, Any] = {
            "kind": _code(column, f"{where}.kind", parts[0]),
            "date": _date(f"{where}.date", parts[1]),
        }
        if len(parts) == 3 and parts[2]:
            event["loss"] = _number(f"{where}.loss", parts[2])
        events.append(event)
    return events


def convert(column: Column, path: str, value: object) -> Any:
    """A cell's value as the record holds it; CellError naming `path` otherwise."""
    match column.kind:
        case "text":
            return _text(column, path, value)
        case "bool":
            return _bool(path, value)
        case "int":
            return _int(path, value)
        case "number":
            return _number(path, value)
        case "date":
            return _date(path, value)
        case "enum":
            return _code(column, path, value)
        case "events":
            return _events(column, path, value)
    raise AssertionError(column.kind)


def _path(column: Column, member: int) -> str:
    if column.member:
        return f"members[{member}].{column.path[1]}"
    return ".".join(column.path)


class _Assembly:
    """The household being read: its record so far, member rows, first error."""

    def __init__(self, header: Header, line: int, household_id: str) -> None:
        self.header = header
        self.out = TableRecord(line=line, household_id=household_id or None)
        self.record: dict[str, Any] = {"household_id": household_id, "members": []}
        self.given: set[str] = {"household_id"}

    def add(self, number: int, cells: Sequence[object]) -> None:
        member: dict[str, Any] = {}
        index = len(self.record["members"])
        for column, value in zip(self.header.columns, cells, strict=False):
            if column is None or _blank(value) or column.code == "household_id":
                continue
            if not column.member and column.code in self.given:
                continue  # a household column: its first non-empty cell counts
            try:
                converted = convert(column, _path(column, index), value)
            except CellError as exc:
                self.fail(number, column, str(exc))
                continue
            if column.member:
                member[column.path[1]] = converted
                continue
            self.given.add(column.code)
            target = self.record
            for key in column.path[:-1]:
                target = target.setdefault(key, {})
            target[column.path[-1]] = converted
        if member:
            self.record["members"].append(member)
            self.out.rows.append(number)

    def fail(self, number: int, column: Column, message: str) -> None:
        if self.out.error is None:
            path, _, reason = message.partition(": ")
            label = self.header.label(column)
            named = f"{path} ({label})" if label != column.code else path
            self.out.error, self.out.error_line = f"{named}: {reason}", number

    def done(self) -> TableRecord:
        if self.out.error is None:
            self.out.record = self.record
        return self.out


def _id_text(value: object) -> str:
    """A household_id cell as text ("" when empty); a number cell as its digits."""
    if _blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_table(
    header: Header, rows: Iterable[tuple[int, Sequence[object]]]
) -> Iterator[TableRecord]:
    """Households from the rows after the header, in order (rows numbered as in the file)."""
    id_at = next(i for i, c in enumerate(header.columns) if c is not None and c is _HOUSEHOLD_ID)
    current: _Assembly | None = None
    for number, cells in rows:
        if all(_blank(c) for c in cells):
            continue
        household_id = _id_text(cells[id_at] if id_at < len(cells) else None)
        if current is None or (household_id and household_id != current.record["household_id"]):
            if current is not None:
                yield current.done()
            if not household_id:  # a row continuing no household
                yield TableRecord(
                    line=number,
                    household_id=None,
                    error=f"household_id: required (row {number} follows no household)",
                    error_line=number,
                )
                continue
            current = _Assembly(header, number, household_id)
        current.add(number, cells)
    if current is not None:
        yield current.done()


def csv_rows(lines: Iterable[str], name: str = "CSV") -> Iterator[tuple[int, list[str]]]:
    """(first line number, cells) of each CSV row (a quoted cell may span lines)."""
    reader = csv.reader(lines)
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise UnusableInput(f"{name} line {reader.line_num}: not valid CSV ({exc})") from None


# ---- writing: records to rows (export) ----


def header_names(columns: Sequence[Column], chinese: bool) -> list[str]:
    """The header row: Chinese names or English codes."""
    return [c.zh if chinese else c.code for c in columns]


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def _cell(column: Column, value: Any, chinese: bool) -> Any:
    """A record value as a table cell: labels (户主, 是) when `chinese`, else codes."""
    if column.kind == "events":
        items = []
        for event in value:
            kind = event["kind"]
            parts = [column.labels()[kind][0] if chinese else kind, event["date"]]
            if "loss" in event:
                parts.append(_plain(event["loss"]))
            items.append(":".join(parts))
        return "; ".join(items) or None
    if isinstance(value, bool):
        return BOOL_LABELS[value][0] if chinese else ("true" if value else "false")
    if column.kind == "enum" and chinese:
        return column.labels()[value][0]
    return value


def _field(record: dict[str, Any], path: Sequence[str]) -> Any:
    value: Any = record
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def household_rows(
    record: dict[str, Any], columns: Sequence[Column], chinese: bool = False
) -> Iterator[list[Any]]:
    """One row per member (household columns repeated): cells as Python values, None for
    fields the record does not have; coded cells as Chinese labels when `chinese`."""
    for member in record["members"]:
        row = []
        for column in columns:
            value = member.get(column.path[1]) if column.member else _field(record, column.path)
            row.append(None if value is None else _cell(column, value, chinese))
        yield row
