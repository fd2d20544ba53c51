"""Household files read for `fangpin households import`: JSON Lines, CSV or XLSX, streamed.

`open_source(path, ...)` checks what can be checked before anything is sent (format, encoding
of the first blocks, header row) and raises `UnusableInput` (exit 2) with a one-line message
otherwise. Its `items()` then yields one `Item` per household as the file is read: the record
as JSON text to send to intake, or the reason it was rejected locally (a cell that cannot be
converted), with its row. Only a block of text (or one sheet row) is read ahead of what
is sent, and gRPC's flow control holds the sending back to what intake takes: memory stays
flat for any file size.

`explain(error, item)` rewrites an intake error for the report: an enum error lists the
allowed values (`members[0].relation: 'boss' is not one of head (户主), spouse (配偶), ...`)
and, for a table, an error about a member points at that member's row.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, Literal

from fangpin_cli.csvformat import Header, TableRecord, csv_rows, find_header, read_table
from fangpin_cli.decoding import TextLines, known_encoding
from fangpin_cli.unusable import UnusableInput
from fangpin_cli.xlsxformat import SheetRows
from fangpin_contracts.household_columns import column_of_path, enum_error

Format = Literal["jsonl", "csv", "xlsx"]
FORMATS: Final[tuple[Format, ...]] = ("jsonl", "csv", "xlsx")
SUFFIXES: Final[dict[str, Format]] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
}
_ENUM: Final = re.compile(r"^Invalid enum value (?P<value>'.*')$", re.DOTALL)
_MEMBER: Final = re.compile(r"^members\[(?P<index>\d+)\]")


@dataclass(frozen=True)
class Item:
    """One household of the file: JSON to send, or the local reason it is rejected."""

    line: int  # the household's first line or row
    household_id: str | None = None
    json: str | None = None
    error: str | None = None
    rows: tuple[int, ...] = ()  # table sources: the row of each member


def file_format(path: Path, named: str | None) -> Format:
    """The format named with --format, else the one of the file name's suffix."""
    if named is not None:
        if named not in FORMATS:
            raise UnusableInput(f"unknown format {named!r} (--format): one of {', '.join(FORMATS)}")
        return named  # type: ignore[return-value]
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise UnusableInput(
            f"{path.name}: the old Excel .xls format is not read: save it as .xlsx or as CSV"
        )
    found = SUFFIXES.get(suffix)
    if found is None:
        raise UnusableInput(
            f"{path.name}: unknown format {suffix or '(no suffix)'}: import reads .jsonl, .csv "
            "or .xlsx files (or name the format with --format jsonl|csv|xlsx)"
        )
    return found


class Source(ABC):
    """A household file being read; `position`/`total` measure the progress through it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.total: int | None = None
        self.ignored: tuple[str, ...] = ()  # table columns the schema does not know
        self.encoding: str | None = None
        self.header: Header | None = None  # table sources

    @property
    @abstractmethod
    def position(self) -> int:
        """How far the reading is, in the unit of `total` (bytes, rows)."""

    @abstractmethod
    def items(self) -> Iterator[Item]:
        """The households, in file order."""

    @abstractmethod
    def close(self) -> None:
        """Release the file."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _TextSource(Source):
    """JSON Lines or CSV: text decoded as it is read (see `fangpin_cli.decoding`)."""

    def __init__(self, path: Path, encoding: str | None) -> None:
        super().__init__(path)
        self.raw: BinaryIO = _open(path)
        self.total = path.stat().st_size
        try:
            self.text = TextLines(self.raw, path.name, encoding)
        except UnusableInput:
            self.raw.close()
            raise
        self.lines = iter(self.text)

    @property
    def position(self) -> int:
        return self.text.consumed

    def close(self) -> None:
        self.raw.close()


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise UnusableInput(f"{path.name}: cannot be read ({exc.strerror or exc})") from None


class JsonLinesSource(_TextSource):
    """One household JSON object per line; intake checks each (blank lines are skipped)."""

    def __init__(self, path: Path, encoding: str | None) -> None:
        super().__init__(path, encoding)
        self._first = next(self.lines, None)  # decodes the first block: encoding problems now
        self.encoding = self.text.encoding

    def items(self) -> Iterator[Item]:
        if self._first is None:
            return
        number = 0
        for number, line in enumerate(_chain(self._first, self.lines), start=1):
            text = line.strip()
            if text:
                yield Item(line=number, json=text)


class CsvSource(_TextSource):
    """A CSV table, header row first (title rows above it are skipped)."""

    def __init__(self, path: Path, encoding: str | None) -> None:
        super().__init__(path, encoding)
        self.rows = csv_rows(self.lines, path.name)
        try:
            self.header = find_header(self.rows)
        except UnusableInput:
            self.raw.close()
            raise
        self.ignored = self.header.ignored
        self.encoding = self.text.encoding

    def items(self) -> Iterator[Item]:
        assert self.header is not None
        return _table_items(read_table(self.header, self.rows))


class XlsxSource(Source):
    """A sheet of an XLSX workbook (the first unless named), header row first."""

    def __init__(self, path: Path, sheet: str | None) -> None:
        super().__init__(path)
        self.sheet = SheetRows(path, sheet)
        self.total = self.sheet.total
        self.rows = iter(self.sheet)
        try:
            self.header = find_header(self.rows)
        except UnusableInput as exc:
            self.sheet.close()
            raise UnusableInput(f"{path.name} sheet {self.sheet.sheet.title}: {exc}") from None
        self.ignored = self.header.ignored

    @property
    def position(self) -> int:
        return self.sheet.read

    def items(self) -> Iterator[Item]:
        assert self.header is not None
        return _table_items(read_table(self.header, self.rows))

    def close(self) -> None:
        self.sheet.close()


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _table_items(records: Iterator[TableRecord]) -> Iterator[Item]:
    for table in records:
        if table.record is None:
            yield Item(
                line=table.error_line or table.line,
                household_id=table.household_id,
                error=table.error,
            )
        else:
            yield Item(
                line=table.line,
                household_id=table.household_id,
                json=json.dumps(table.record, ensure_ascii=False),
                rows=tuple(table.rows),
            )


def open_source(
    path: Path, format_: str | None = None, encoding: str | None = None, sheet: str | None = None
) -> Source:
    """The file ready to be read; UnusableInput when it cannot be used at all."""
    kind = file_format(path, format_)
    if encoding is not None:
        known_encoding(encoding)
        if kind == "xlsx":
            raise UnusableInput("--encoding applies to CSV and JSON Lines, not to XLSX workbooks")
    if sheet is not None and kind != "xlsx":
        raise UnusableInput("--sheet applies to XLSX workbooks only")
    if kind == "jsonl":
        return JsonLinesSource(path, encoding)
    if kind == "csv":
        return CsvSource(path, encoding)
    return XlsxSource(path, sheet)


def explain(error: str, item: Item | None, header: Header | None = None) -> tuple[int | None, str]:
    """(the row the error concerns when more precise than the household's first row, and the
    error text): an enum error lists the allowed values; with a table's header, the path is
    followed by the column's Chinese name when the file named it so."""
    path, sep, reason = error.partition(": ")
    if not sep:
        return None, error
    column = column_of_path(path)
    if column is not None and (enum := _ENUM.match(reason)):
        reason = enum_error(column, enum["value"][1:-1])
    line = None
    if item is not None and item.rows and (member := _MEMBER.match(path)):
        index = int(member["index"])
        if index < len(item.rows):
            line = item.rows[index]
    if header is not None and column is not None and header.label(column) != column.code:
        path = f"{path} ({header.label(column)})"
    return line, f"{path}: {reason}"
