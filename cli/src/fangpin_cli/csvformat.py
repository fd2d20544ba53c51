"""Household CSV (one row per member) to v1 records, for `fangpin households import FILE.csv`.

Columns: household columns (`household_id`, `county`, `town`, `village`, `formerly_poor`,
`relocated`, `housing_safe`, `drinking_water_safe`, `safety_net`, `income.<field>`,
`expenses.<field>`, `assets.<field>`, `flags.<field>`) repeat on every member row; member columns
are `member.<field>` (`member.id_number`, `member.name`, ...). Rows of one household are
consecutive. Empty cells mean "not given" (the schema default applies).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

BOOL_FIELDS = {
    "formerly_poor",
    "relocated",
    "housing_safe",
    "drinking_water_safe",
    "member.urban_security",
    "member.village_leader",
    "member.out_of_school",
    "member.high_fee_school",
    "member.medical_insured",
}
INT_FIELDS = {"member.disability_grade"}
NUMBER_PREFIXES = ("income.", "expenses.")
REGION_FIELDS = ("county", "town", "village")


class CsvError(ValueError):
    def __init__(self, line: int, household_id: str | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.household_id = household_id


def _convert(column: str, value: str) -> Any:
    if column in BOOL_FIELDS or column.startswith(("assets.", "flags.")):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "是"):
            return True
        if lowered in ("false", "0", "no", "否"):
            return False
        raise ValueError(f"{column}: {value!r} is not true/false")
    if column in INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{column}: {value!r} is not an integer") from None
    if column.startswith(NUMBER_PREFIXES):
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{column}: {value!r} is not a number") from None
    return value


def _household_part(row: dict[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    region = {k: row[k] for k in REGION_FIELDS if row.get(k)}
    if region:
        record["region"] = region
    for column, value in row.items():
        if not value or column in REGION_FIELDS or column.startswith("member."):
            continue
        converted = _convert(column, value)
        if "." in column:
            group, field = column.split(".", 1)
            record.setdefault(group, {})[field] = converted
        else:
            record[column] = converted
    return record


def _member_part(row: dict[str, str]) -> dict[str, Any]:
    return {
        column.removeprefix("member."): _convert(column, value)
        for column, value in row.items()
        if value and column.startswith("member.")
    }


def read_csv(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | CsvError]]:
    """(first line of the household, record or CsvError) for each household in the file."""
    reader = csv.DictReader(lines)
    if not reader.fieldnames or "household_id" not in reader.fieldnames:
        raise CsvError(1, None, "header: a household_id column is required")
    current: dict[str, Any] | None = None
    start = 0
    error: CsvError | None = None
    for row in reader:
        line = reader.line_num
        household_id = row.get("household_id") or ""
        if current is None or household_id != current.get("household_id"):
            if current is not None:
                yield start, error or current
            start, error, current = line, None, {"household_id": household_id, "members": []}
            try:
                current.update(_household_part(row))
            except ValueError as err:
                error = CsvError(line, household_id, str(err))
        try:
            member = _member_part(row)
            if member:
                current["members"].append(member)
        except ValueError as err:
            error = error or CsvError(line, household_id, str(err))
    if current is not None:
        yield start, error or current
