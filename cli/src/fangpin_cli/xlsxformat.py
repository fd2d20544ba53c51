"""Household workbooks (XLSX): rows of a sheet streamed in, export and template written out.

Reading uses openpyxl's read-only mode (rows parsed as they are iterated, memory flat for any
sheet size) with cached formula values. The template (`fangpin households template`) has the
data sheet 户信息 with the Chinese header row, text format on code and ID columns (so Excel
keeps leading zeros and all 18 digits) and drop-down lists of the allowed labels, and a sheet
填写说明 explaining each column and its allowed values. The columns are those of
`fangpin_contracts.household_columns`; see `fangpin_cli.csvformat` for how cells are read.
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.workbook.workbook import Workbook as WorkbookType
from openpyxl.worksheet.datavalidation import DataValidation

from fangpin_cli.unusable import UnusableInput
from fangpin_contracts.household_columns import BOOL_LABELS, COLUMNS, Column, allowed_text

DATA_SHEET: Final = "户信息"
HELP_SHEET: Final = "填写说明"
TEMPLATE_ROWS: Final = 10000
"""Rows of the template's data sheet that carry the drop-down lists."""

_KIND_TEXT: Final = {
    "text": "文本",
    "bool": "是 / 否",
    "int": "整数",
    "number": "数字",
    "date": "日期",
    "enum": "代码或中文",
    "events": "事件列表",
}


class SheetRows:
    """Numbered rows (cell values) of one sheet of a workbook, read as they are iterated."""

    def __init__(self, path: Path, sheet: str | None = None) -> None:
        self.name = path.name
        try:
            with warnings.catch_warnings():  # openpyxl's style warnings: not the reader's affair
                warnings.simplefilter("ignore", UserWarning)
                self.book: WorkbookType = load_workbook(path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError) as exc:
            raise UnusableInput(
                f"{path.name}: not a readable XLSX workbook ({exc}); an encrypted workbook or "
                "an old .xls must be saved again as .xlsx"
            ) from None
        names = self.book.sheetnames
        if sheet is not None and sheet not in names:
            self.book.close()
            raise UnusableInput(
                f"{path.name}: no sheet {sheet!r} (--sheet); it has {', '.join(names)}"
            )
        self.sheet = self.book[sheet] if sheet is not None else self.book.worksheets[0]
        self.read = 0
        self.total: int | None = self.sheet.max_row if self.sheet.max_row else None

    def __iter__(self) -> Iterator[tuple[int, tuple[Any, ...]]]:
        rows = self.sheet.iter_rows(values_only=True)
        number = 0
        while True:
            try:
                cells = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # a damaged sheet: openpyxl raises XML, zip, value errors
                raise UnusableInput(
                    f"{self.name} sheet {self.sheet.title}: row {number + 1} cannot be read "
                    f"({type(exc).__name__}: {exc})"
                ) from None
            number += 1
            self.read = number
            yield number, cells

    def close(self) -> None:
        self.book.close()


def _allowed(column: Column) -> str:
    if column.kind == "enum":
        return allowed_text(column)
    if column.kind == "bool":
        return f"{BOOL_LABELS[True][0]} / {BOOL_LABELS[False][0]}"
    if column.kind == "events":
        return allowed_text(column)
    return ""


def _choices(column: Column) -> list[str] | None:
    """The drop-down list of a coded or yes/no column (first Chinese label of each code)."""
    if column.kind == "enum":
        return [column.labels().get(code, (code,))[0] for code in column.values]
    if column.kind == "bool":
        return [BOOL_LABELS[True][0], BOOL_LABELS[False][0]]
    return None


def write_template(path: Path) -> None:
    """The household template workbook: 户信息 (header row) and 填写说明 (one row per column)."""
    book = Workbook()
    data = book.active
    assert data is not None
    data.title = DATA_SHEET
    bold = Font(bold=True)
    required_fill = PatternFill("solid", fgColor="FFF2CC")
    for index, column in enumerate(COLUMNS, start=1):
        cell = data.cell(row=1, column=index, value=column.zh)
        cell.font = bold
        if column.required:
            cell.fill = required_fill
        letter = get_column_letter(index)
        data.column_dimensions[letter].width = max(10, len(column.zh) * 2 + 2)
        cells = f"{letter}2:{letter}{TEMPLATE_ROWS + 1}"
        if column.kind in ("text", "date"):  # text: no lost zeros, all 18 digits
            data.column_dimensions[letter].number_format = "@"
        if (choices := _choices(column)) is not None:
            check = DataValidation(type="list", formula1=f'"{",".join(choices)}"')
            check.showErrorMessage = False  # a code (`head`) is accepted as well
            check.add(cells)
            data.add_data_validation(check)
    data.freeze_panes = "B2"

    notes = book.create_sheet(HELP_SHEET)
    notes.append(["列名", "代码 (英文列名)", "必填", "内容", "可填的值", "说明"])
    for cell in notes[1]:
        cell.font = bold
    for column in COLUMNS:
        notes.append(
            [
                column.zh,
                column.code,
                "是" if column.required else "",
                _KIND_TEXT[column.kind],
                _allowed(column),
                column.note,
            ]
        )
    notes.append([])
    notes.append(
        [
            "填写方法",
            "每行一名家庭成员; 同户成员行相邻, 户编号相同; 户级信息每行重复或只填在该户第一行; "
            "空格表示未填写 (取默认值). 英文列名与中文列名均可识别.",
        ]
    )
    widths = {"A": 22, "B": 30, "C": 6, "D": 12, "E": 60, "F": 50}
    for letter, width in widths.items():
        notes.column_dimensions[letter].width = width
    for row in notes.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    book.save(path)


def write_rows(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A workbook with one sheet 户信息: the header, then `rows`, streamed (write-only)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(DATA_SHEET)
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    book.save(path)
