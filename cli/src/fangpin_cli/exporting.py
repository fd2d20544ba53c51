"""Where `fangpin households export` writes records: JSON Lines, CSV or an XLSX workbook.

A file is written under a temporary name (`<name>.part`) and renamed when complete, so an
interrupted export never leaves a file that looks whole. CSV and XLSX have one row per member
with the columns of `fangpin_contracts.household_columns` (Chinese names and labels by
default, English codes with `chinese=False`): what `fangpin households import` reads back.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any, Final, TextIO

from openpyxl import Workbook

from fangpin_cli.csvformat import header_names, household_rows
from fangpin_cli.decoding import known_encoding
from fangpin_cli.importing import SUFFIXES, Format
from fangpin_cli.unusable import UnusableInput
from fangpin_cli.xlsxformat import DATA_SHEET
from fangpin_contracts.household_columns import COLUMNS

DEFAULT_CSV_ENCODING: Final = "utf-8-sig"
"""UTF-8 with a byte order mark: what Excel opens correctly as 'CSV UTF-8'."""


class Sink:
    """Household records out to one destination, one `write` per record."""

    def __init__(
        self,
        out: Path | None,
        kind: Format,
        chinese: bool = True,
        encoding: str = DEFAULT_CSV_ENCODING,
    ) -> None:
        self.out = out
        self.kind = kind
        self.chinese = chinese
        self.part = None if out is None else out.with_name(out.name + ".part")
        self._book: Any = None
        self._sheet: Any = None
        self._text: TextIO | None = None
        self._csv: Any = None
        if kind == "xlsx":
            self._book = Workbook(write_only=True)
            self._sheet = self._book.create_sheet(DATA_SHEET)
            self._sheet.append(header_names(COLUMNS, chinese))
            return
        if self.part is None:
            self._text = sys.stdout
        else:
            name = known_encoding(encoding) if kind == "csv" else "utf-8"
            try:
                self._text = self.part.open("w", encoding=name, newline="")
            except OSError as exc:
                raise UnusableInput(f"{out}: cannot be written ({exc.strerror or exc})") from None
        if kind == "csv":
            self._csv = csv.writer(self._text)
            self._csv.writerow(header_names(COLUMNS, chinese))

    def write(self, record: dict[str, Any]) -> None:
        """One household (one line, or one row per member)."""
        if self.kind == "jsonl":
            assert self._text is not None
            self._text.write(json.dumps(record, ensure_ascii=False) + "\n")
            return
        rows = household_rows(record, COLUMNS, self.chinese)
        try:
            for row in rows:
                (self._sheet.append if self.kind == "xlsx" else self._csv.writerow)(row)
        except UnicodeEncodeError as exc:
            raise UnusableInput(
                f"household {record.get('household_id')}: {exc.object[exc.start : exc.end]!r} "
                f"cannot be written in {exc.encoding} (--encoding): use utf-8-sig or gb18030"
            ) from None

    def finish(self) -> None:
        """Complete the file (rename it to its name)."""
        if self._book is not None:
            assert self.part is not None
            self._book.save(self.part)
        elif self._text is not None and self._text is not sys.stdout:
            self._text.close()
        else:
            sys.stdout.flush()
        if self.part is not None and self.out is not None:
            self.part.replace(self.out)

    def abandon(self) -> None:
        """Remove the partial file after a failure."""
        if self._text is not None and self._text is not sys.stdout:
            self._text.close()
        if self.part is not None:
            self.part.unlink(missing_ok=True)


def sink_for(out: Path | None, format_: str | None, headers: str, encoding: str | None) -> Sink:
    """The sink `--out`/`--format`/`--headers`/`--encoding` name; UnusableInput otherwise."""
    if headers not in ("zh", "en"):
        raise UnusableInput(f"unknown --headers {headers!r}: zh or en")
    if format_ is not None:
        if format_ not in ("jsonl", "csv", "xlsx"):
            raise UnusableInput(f"unknown format {format_!r} (--format): jsonl, csv or xlsx")
        kind: Format = format_  # type: ignore[assignment]
    elif out is None:
        kind = "jsonl"
    else:
        found = SUFFIXES.get(out.suffix.lower())
        if found is None:
            raise UnusableInput(
                f"{out.name}: unknown format {out.suffix or '(no suffix)'}: export writes "
                ".jsonl, .csv or .xlsx (or name it with --format)"
            )
        kind = found
    if kind == "xlsx" and out is None:
        raise UnusableInput("an XLSX export needs --out FILE.xlsx")
    if encoding is not None and kind != "csv":
        raise UnusableInput("--encoding applies to CSV exports only")
    return Sink(out, kind, headers == "zh", encoding or DEFAULT_CSV_ENCODING)
