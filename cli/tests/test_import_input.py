"""Household files the import cannot use, and cells it cannot convert: one clear line, never a
traceback; `fangpin screen` on a CSV says it reads JSON Lines. No service is needed: each file
here is refused (or converted offline) before anything would be sent."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fangpin_cli.csvformat import csv_rows, find_header, read_table
from fangpin_cli.decoding import TextLines
from fangpin_cli.demo import id_number
from fangpin_cli.main import app
from fangpin_cli.unusable import UnusableInput
from fangpin_contracts.household_columns import COLUMNS, VALUE_LABELS, column_named

runner = CliRunner()
# intake is never reached by these tests: a closed port makes any attempt fail loudly
ENV = {"FANGPIN_INTAKE_ADDR": "127.0.0.1:9"}
COUNTY = "652827"
HEAD_ID = id_number(COUNTY, date(1980, 1, 11), 1)
SPOUSE_ID = id_number(COUNTY, date(1982, 3, 5), 2)
BAD_DIGIT_ID = SPOUSE_ID[:-1] + ("1" if SPOUSE_ID[-1] == "0" else "0")


def test_a_header_without_household_id_exits_2_with_the_intended_message(tmp_path: Path) -> None:
    source = tmp_path / "hh.csv"
    source.write_text("编号,县代码,行政村代码,身份证号,姓名,与户主关系,出生日期\n", encoding="gbk")
    result = runner.invoke(app, ["households", "import", str(source)], env=ENV)
    assert result.exit_code == 2
    assert "header: a household_id column is required" in result.stderr
    assert "户编号" in result.stderr  # the Chinese name it would have accepted
    assert "Traceback" not in result.output and result.stdout == ""


def test_a_header_missing_required_columns_names_them(tmp_path: Path) -> None:
    source = tmp_path / "hh.csv"
    source.write_text("户编号,县代码,行政村代码,姓名\nH000001,652827,652827100001,王伟\n")
    result = runner.invoke(app, ["households", "import", str(source)], env=ENV)
    assert result.exit_code == 2
    assert "required columns missing: 身份证号 (member.id_number)" in result.stderr
    assert "与户主关系 (member.relation)" in result.stderr


def test_a_file_that_is_neither_utf8_nor_gb18030_names_the_encodings_tried(
    tmp_path: Path,
) -> None:
    source = tmp_path / "hh.csv"
    source.write_bytes(bytes(range(0x80, 0x100)) * 4 + b"\nhousehold_id,county\n")
    result = runner.invoke(app, ["households", "import", str(source)], env=ENV)
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in result.output
    assert "tried utf-8, gb18030" in line and "--encoding" in line


def test_a_gbk_file_read_as_utf8_on_request_names_the_line_and_the_option(tmp_path: Path) -> None:
    source = tmp_path / "hh20_gbk.csv"
    source.write_bytes("户编号,县代码\nH000001,652827\n".encode("gbk"))
    result = runner.invoke(
        app, ["households", "import", str(source), "--encoding", "utf-8"], env=ENV
    )
    assert result.exit_code == 2
    assert "hh20_gbk.csv line 1" in result.stderr
    assert "not utf-8 (named with --encoding)" in result.stderr


def test_an_unknown_encoding_name_and_an_unknown_format_exit_2(tmp_path: Path) -> None:
    source = tmp_path / "hh.csv"
    source.write_text("household_id\n")
    result = runner.invoke(
        app, ["households", "import", str(source), "--encoding", "klingon"], env=ENV
    )
    assert result.exit_code == 2 and "unknown encoding 'klingon'" in result.stderr
    other = tmp_path / "hh.dat"
    other.write_text("household_id\n")
    result = runner.invoke(app, ["households", "import", str(other)], env=ENV)
    assert result.exit_code == 2
    assert "unknown format .dat" in result.stderr and "--format" in result.stderr
    old = tmp_path / "hh.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 60)
    result = runner.invoke(app, ["households", "import", str(old)], env=ENV)
    assert result.exit_code == 2 and "save it as .xlsx" in result.stderr


def test_a_workbook_named_csv_is_recognised(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["户编号"])  # type: ignore[union-attr]
    source = tmp_path / "hh.csv"
    book.save(source)
    result = runner.invoke(app, ["households", "import", str(source)], env=ENV)
    assert result.exit_code == 2
    assert "is an Excel workbook (XLSX)" in result.stderr and "--format xlsx" in result.stderr


def test_detection_reads_utf8_with_and_without_bom_and_gbk_alike() -> None:
    text = '户编号,姓名\r\nH000001,王伟\r\nH000002,"李\n芳"\n'
    for encoding, detected in (
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("gbk", "gb18030"),
        ("gb18030", "gb18030"),
    ):
        lines = TextLines(io.BytesIO(text.encode(encoding)), "hh.csv")
        assert "".join(lines) == text, encoding
        assert lines.encoding == detected


def test_gbk_after_a_long_ascii_start_is_still_detected() -> None:
    text = "household_id,member.name\n" + "H000001,Wang\n" * 20_000 + "H000002,王伟\n"
    lines = TextLines(io.BytesIO(text.encode("gbk")), "hh.csv")
    assert "".join(lines) == text and lines.encoding == "gb18030"


def test_gbk_bytes_far_below_utf8_text_stop_with_their_line_number() -> None:
    data = ("户编号\n" + "H000001\n" * 30_000).encode("utf-8") + "王伟\n".encode("gbk")
    with pytest.raises(UnusableInput) as err:
        list(TextLines(io.BytesIO(data), "hh.csv"))
    assert "hh.csv line 30002" in str(err.value)
    assert "--encoding gb18030" in str(err.value)


def table(text: str) -> list[tuple[int, dict[str, object] | None, str | None]]:
    rows = csv_rows(io.StringIO(text))
    header = find_header(rows)
    return [(t.error_line or t.line, t.record, t.error) for t in read_table(header, rows)]


def test_chinese_headers_labels_and_merged_household_cells_make_one_record() -> None:
    text = (
        "某县防返贫监测户信息表\n"  # a title row above the header
        "户编号,县代码,行政村代码,身份证号,姓名,与户主关系,出生日期,是否脱贫户,工资性收入,备注\n"
        f'H000001,652827,652827100001,{HEAD_ID},王伟,户主,1980/1/11,是,"12,000.5",\n'
        f",,,{SPOUSE_ID},李芳,配偶,1982年3月5日,,,merged cells leave these empty\n"
    )
    [(line, record, error)] = table(text)
    assert error is None and line == 3
    assert record == {
        "household_id": "H000001",
        "region": {"county": "652827", "village": "652827100001"},
        "members": [
            {"id_number": HEAD_ID, "name": "王伟", "relation": "head", "birth_date": "1980-01-11"},
            {
                "id_number": SPOUSE_ID,
                "name": "李芳",
                "relation": "spouse",
                "birth_date": "1982-03-05",
            },
        ],
        "formerly_poor": True,
        "income": {"wage": 12000.5},
    }


def test_a_bad_enum_cell_lists_the_allowed_values_with_the_member_row() -> None:
    text = (
        "household_id,county,village,member.id_number,member.name,member.relation,"
        "member.birth_date\n"
        f"H000001,652827,652827100001,{HEAD_ID},王伟,head,1980-01-11\n"
        f"H000001,,,{SPOUSE_ID},李芳,boss,1982-03-05\n"
    )
    [(line, record, error)] = table(text)
    assert record is None and line == 3
    assert error is not None and error.startswith("members[1].relation: 'boss' is not one of ")
    relation = column_named("member.relation")
    assert relation is not None and "head" in relation.values
    for code in relation.values:  # the model's values, in the model's order
        assert code in error
    assert error.index("head") < error.index("spouse") < error.index("other")
    assert "户主" in error  # the Chinese labels are accepted too, so they are listed


def test_every_coded_column_has_a_label_for_exactly_the_models_values() -> None:
    coded = {c.code: c for c in COLUMNS if c.values}
    assert set(VALUE_LABELS) == set(coded)
    for code, column in coded.items():
        assert tuple(VALUE_LABELS[code]) == column.values, code
    names = [n for c in COLUMNS for n in (c.code, c.zh)]
    assert len(names) == len(set(names))  # no Chinese name shadows another column
    assert all(column_named(c.zh) is c and column_named(c.code) is c for c in COLUMNS)


def test_screen_on_a_csv_says_it_reads_json_lines(tmp_path: Path) -> None:
    source = tmp_path / "hh.csv"
    source.write_text(
        'household_id,county,village\nH000001,652827,652827100001\n"H000002",652827,1\n'
    )
    result = runner.invoke(app, ["screen", str(source), "--as-of", "2024-06-29"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"fangpin screen: {source} is not JSON Lines: fangpin screen reads JSON Lines, one "
        "household record (a JSON object) per line; convert a CSV or XLSX file first with "
        "`fangpin households convert FILE -o FILE.jsonl`"
    )
    # the per-line output of CONTRACT section 3 is unchanged: one rejection line per line
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["line"] for x in lines] == [1, 2, 3]
    assert all(set(x) == {"line", "household_id", "error"} for x in lines)
    assert lines[0]["error"].startswith(": invalid JSON")


def test_screen_says_the_same_of_a_workbook_on_standard_input(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["户编号"])  # type: ignore[union-attr]
    source = tmp_path / "hh.xlsx"
    book.save(source)
    result = runner.invoke(app, ["screen", "-", "--as-of", "2024-06-29"], input=source.read_bytes())
    assert result.exit_code == 1
    assert "standard input is an Excel workbook: fangpin screen reads JSON Lines" in (result.stderr)


def test_screen_keeps_json_lines_rejections_as_they_were_and_adds_no_hint() -> None:
    text = '{"household_id": "H000001"}\n\nnot json\n'
    result = runner.invoke(app, ["screen", "-", "--as-of", "2024-06-29"], input=text)
    errors = [json.loads(x)["error"] for x in result.stdout.splitlines()]
    assert errors[:2] == ["region: required field missing", ": empty record"]
    assert errors[2].startswith(": invalid JSON")
    assert result.exit_code == 1 and result.stderr == ""


def test_convert_checks_a_table_offline_and_writes_json_lines(tmp_path: Path) -> None:
    source = tmp_path / "hh.csv"
    source.write_text(
        "户编号,县代码,行政村代码,身份证号,姓名,与户主关系,出生日期\n"
        f"H000001,652827,652827100001,{HEAD_ID},王伟,户主,1980-01-11\n"
        f"H000002,652827,652827100001,{BAD_DIGIT_ID},李芳,户主,1982-03-05\n",
        encoding="utf-8-sig",
    )
    out = tmp_path / "hh.jsonl"
    result = runner.invoke(app, ["households", "convert", str(source), "-o", str(out)])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "line": 3,
        "household_id": "H000002",
        "error": "members[0].id_number (身份证号): bad check digit",
    }
    [record] = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert record["members"][0]["relation"] == "head"
    screened = runner.invoke(app, ["screen", str(out), "--as-of", "2024-06-29"])
    assert screened.exit_code == 0 and json.loads(screened.stdout)["household_id"] == "H000001"


def test_the_import_docs_list_every_column_of_the_mapping() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "households-import.md"
    text = docs.read_text(encoding="utf-8")
    for column in COLUMNS:
        assert f"| {column.zh} | `{column.code}` |" in text, column.code
        for code in column.values:
            assert f"`{code}` {'/'.join(column.labels()[code])}" in text, (column.code, code)


def test_a_sheet_is_sized_from_its_dimension_or_left_unsized_without_a_full_scan(
    tmp_path: Path,
) -> None:
    from openpyxl import Workbook

    from fangpin_cli.xlsxformat import SheetRows

    sized, streamed = Workbook(), Workbook(write_only=True)
    streamed_sheet = streamed.create_sheet("户信息")
    for n in range(30):
        sized.active.append([f"H{n:06d}", n, None, "x"])  # type: ignore[union-attr]
        streamed_sheet.append([f"H{n:06d}", n, None, "x"])
    sized.save(tmp_path / "sized.xlsx")
    streamed.save(tmp_path / "streamed.xlsx")  # write-only: no <dimension> element
    with_size = SheetRows(tmp_path / "sized.xlsx")
    without = SheetRows(tmp_path / "streamed.xlsx")
    try:
        assert with_size.total == 30 and without.total is None
        assert [n for n, _ in with_size] == [n for n, _ in without] == list(range(1, 31))
        assert without.read == 30
    finally:
        with_size.close()
        without.close()
