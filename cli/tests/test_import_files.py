"""`fangpin households import` of real county files against intake run in this process: GBK and
UTF-8-BOM CSV, Chinese headers, XLSX, the template filled in; one report line per rejected
household naming its row and field; export back to a workbook that imports unchanged."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner, Result

from fangpin_cli.decoding import BLOCK_BYTES
from fangpin_cli.demo import id_number
from fangpin_cli.main import app
from fangpin_contracts.household_columns import COLUMNS
from fangpin_intake.bootstrap import SPEC
from fangpin_kit.clock import in_china
from fangpin_kit.natsserver import EmbeddedNats
from fangpin_kit.testing import running_service

START = in_china(date(2024, 6, 3))  # Monday 10:00 in China

ZH_HEADER = (
    "户编号,县代码,乡镇代码,行政村代码,身份证号,姓名,与户主关系,出生日期,"
    "劳动能力,是否脱贫户,工资性收入"
)
EN_HEADER = (
    "household_id,county,town,village,member.id_number,member.name,member.relation,"
    "member.birth_date,member.labor_capacity,formerly_poor,income.wage"
)


@pytest.fixture
async def intake(tmp_path: Path, nats_server: EmbeddedNats, county: str) -> AsyncIterator[str]:
    """The address of an intake service for `county` on a fresh SQLite store."""
    settings: dict[str, Any] = {
        "county": county,
        "nats_url": nats_server.url,
        "db_url": f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}",
    }
    async with running_service(SPEC, start=START, **settings) as service:
        yield f"127.0.0.1:{service.grpc.port}"  # type: ignore[union-attr]


async def fangpin(address: str, *args: str) -> Result:
    """The CLI in a thread (its `call` runs its own event loop) against `address`."""
    env = {"FANGPIN_INTAKE_ADDR": address}
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


def rows(county: str, first: int = 0, count: int = 2, labels: bool = True) -> list[list[str]]:
    """Two member rows per household (head, spouse), as cells in the column order above."""
    out = []
    for n in range(first, first + count):
        household = f"H{county}{n:04d}"
        village = f"{county}100001"
        head = id_number(county, date(1970, 1, 1 + n % 28), 2 * n)
        spouse = id_number(county, date(1972, 2, 1 + n % 28), 2 * n + 1)
        relation = ("户主", "配偶") if labels else ("head", "spouse")
        poor = "是" if labels else "true"
        labor = "弱劳动力" if labels else "weak"
        place = [household, county, village[:9], village]
        out.append([*place, head, "王伟", relation[0], "1970-01-01", labor, poor, "5200.5"])
        out.append([*place, spouse, "李芳", relation[1], "1972/2/1", "", "", ""])
    return out


def csv_text(header: str, cells: list[list[str]]) -> str:
    return header + "\r\n" + "".join(",".join(r) + "\r\n" for r in cells)


def reports(result: Result) -> list[dict[str, Any]]:
    """The report lines (the in-process service's own log lines are captured beside them)."""
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


async def show(address: str, household_id: str) -> dict[str, Any]:
    result = await fangpin(address, "households", "show", household_id)
    assert result.exit_code == 0, result.output
    [record] = reports(result)
    return record


async def test_a_gbk_csv_with_chinese_headers_imports(
    intake: str, county: str, tmp_path: Path
) -> None:
    source = tmp_path / "hh20_gbk.csv"
    source.write_bytes(csv_text(ZH_HEADER, rows(county, count=20)).encode("gbk"))
    result = await fangpin(intake, "households", "import", str(source))
    assert result.exit_code == 0, result.output
    assert reports(result) == []
    assert "20 created, 0 updated, 0 unchanged, 0 rejected" in result.stderr
    record = await show(intake, f"H{county}0003")
    assert [m["relation"] for m in record["members"]] == ["head", "spouse"]
    assert record["members"][0]["labor_capacity"] == "weak"
    assert record["members"][1]["birth_date"] == "1972-02-01"
    assert record["formerly_poor"] is True and record["income"]["wage"] == 5200.5


async def test_a_utf8_bom_csv_with_english_headers_imports_and_again_is_unchanged(
    intake: str, county: str, tmp_path: Path
) -> None:
    source = tmp_path / "hh.csv"
    source.write_text(csv_text(EN_HEADER, rows(county, count=3, labels=False)), "utf-8-sig")
    first = await fangpin(intake, "households", "import", str(source))
    assert first.exit_code == 0, first.output
    assert "3 created" in first.stderr
    again = await fangpin(intake, "households", "import", str(source))
    assert again.exit_code == 0 and "3 unchanged" in again.stderr


async def test_rejected_rows_are_reported_with_their_row_and_field_and_the_rest_imports(
    intake: str, county: str, tmp_path: Path
) -> None:
    cells = rows(county, count=3)
    cells[3][6] = "boss"  # second household, its spouse (row 5 of the file)
    cells[4][4] = cells[4][4][:-1] + ("1" if cells[4][4][-1] == "0" else "0")  # bad digit
    source = tmp_path / "hh.csv"
    source.write_text(csv_text(ZH_HEADER, cells), "utf-8")
    result = await fangpin(intake, "households", "import", str(source))
    assert result.exit_code == 1
    lines = reports(result)
    assert lines[0] == {
        "line": 5,
        "household_id": f"H{county}0001",
        "error": "members[1].relation (与户主关系): 'boss' is not one of head (户主), "
        "spouse (配偶), child (子女), parent (父母), grandchild (孙子女), sibling (兄弟姐妹), "
        "other (其他)",
    }
    # the check digit is intake's verdict: the member's row, not the household's first
    assert lines[1] == {
        "line": 6,
        "household_id": f"H{county}0002",
        "error": "members[0].id_number (身份证号): bad check digit",
    }
    assert "1 created, 0 updated, 0 unchanged, 2 rejected" in result.stderr


async def test_enum_errors_from_json_lines_list_the_allowed_values(
    intake: str, county: str, tmp_path: Path
) -> None:
    record = {
        "household_id": f"H{county}0001",
        "region": {"county": county, "village": f"{county}100001"},
        "members": [
            {
                "id_number": id_number(county, date(1970, 1, 1), 7),
                "name": "王伟",
                "relation": "head",
                "birth_date": "1970-01-01",
                "employment": "boss",
            }
        ],
    }
    source = tmp_path / "hh.jsonl"
    source.write_text("\n" + json.dumps(record, ensure_ascii=False) + "\n")
    result = await fangpin(intake, "households", "import", str(source))
    assert result.exit_code == 1
    [line] = reports(result)
    assert line["line"] == 2 and line["household_id"] == f"H{county}0001"
    assert line["error"].startswith("members[0].employment: 'boss' is not one of none (无业), ")
    assert "public_employee (公职人员)" in line["error"]


async def test_an_xlsx_sheet_with_title_row_and_typed_cells_imports(
    intake: str, county: str, tmp_path: Path
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["XX县防止返贫监测对象信息采集表"])
    sheet.append(ZH_HEADER.split(","))
    for n, cells in enumerate(rows(county, count=4)):
        typed: list[Any] = list(cells)
        typed[1], typed[3] = int(cells[1]), int(cells[3])  # codes typed as numbers
        typed[7] = date(1970, 1, 1) if n % 2 == 0 else cells[7]  # a date cell
        typed[10] = float(cells[10]) if cells[10] else None
        sheet.append(typed)
    source = tmp_path / "村户信息.xlsx"
    book.save(source)
    result = await fangpin(intake, "households", "import", str(source))
    assert result.exit_code == 0, result.output
    assert "4 created" in result.stderr
    record = await show(intake, f"H{county}0002")
    assert record["region"]["county"] == county and record["income"]["wage"] == 5200.5


async def test_the_template_filled_in_imports_and_an_export_imports_unchanged(
    intake: str, county: str, tmp_path: Path
) -> None:
    template = tmp_path / "模板.xlsx"
    written = await fangpin(intake, "households", "template", "--out", str(template))
    assert written.exit_code == 0, written.output
    book = load_workbook(template)
    assert book.sheetnames == ["户信息", "填写说明"]
    header = [c.value for c in book["户信息"][1]]
    assert header == [c.zh for c in COLUMNS]
    explained = {row[1]: row for row in book["填写说明"].iter_rows(min_row=2, values_only=True)}
    assert "head (户主)" in explained["member.relation"][4]
    fill = {
        "户编号": f"H{county}0042",
        "县代码": county,
        "行政村代码": f"{county}100001",
        "身份证号": id_number(county, date(1965, 5, 4), 42),
        "姓名": "张强",
        "与户主关系": "户主",
        "出生日期": "1965-05-04",
        "健康状况": "慢性病",
        "兜底保障": "低保",
        "是否参加基本医保": "否",
        "突发事件": "自然灾害:2024-05-01:3000",
    }
    data = book["户信息"]
    for index, name in enumerate(header, start=1):
        if name in fill:
            data.cell(row=2, column=index, value=fill[name])
    book.save(template)
    result = await fangpin(intake, "households", "import", str(template))
    assert result.exit_code == 0, result.output
    record = await show(intake, f"H{county}0042")
    assert record["members"][0]["illness"] == "chronic"
    assert record["members"][0]["medical_insured"] is False
    assert record["safety_net"] == "dibao"
    assert record["events"] == [{"kind": "disaster", "date": "2024-05-01", "loss": 3000.0}]

    exported = tmp_path / "registry.xlsx"
    out = await fangpin(intake, "households", "export", "--out", str(exported))
    assert out.exit_code == 0, out.output
    assert "exported: 1 households" in out.stderr
    again = await fangpin(intake, "households", "import", str(exported))
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated, 1 unchanged" in again.stderr


async def test_bytes_of_another_encoding_further_down_stop_the_import_at_their_line(
    intake: str, county: str, tmp_path: Path
) -> None:
    cells = rows(county, count=401)
    good = csv_text(ZH_HEADER, cells[:800]).encode("utf-8")  # lines 2-801: past the first block
    assert len(good) > BLOCK_BYTES
    bad = "".join(",".join(r) + "\r\n" for r in cells[800:]).encode("gbk")  # lines 802-803
    source = tmp_path / "mixed.csv"
    source.write_bytes(good + bad)
    result = await fangpin(intake, "households", "import", str(source), "--encoding", "utf-8")
    assert result.exit_code == 2
    assert "stopped: mixed.csv line 802: bytes" in result.stderr
    assert "not utf-8 (named with --encoding)" in result.stderr
    # the households before it are in the registry; the last one read might have had more
    # rows on that line, so it is not
    assert "399 created, 0 updated, 0 unchanged, 0 rejected" in result.stderr
    assert (await show(intake, f"H{county}0398"))["members"][1]["name"] == "李芳"


async def test_a_csv_export_with_english_codes_imports_back_unchanged(
    intake: str, county: str, tmp_path: Path
) -> None:
    source = tmp_path / "hh.csv"
    source.write_bytes(csv_text(ZH_HEADER, rows(county, count=3)).encode("gb18030"))
    assert (await fangpin(intake, "households", "import", str(source))).exit_code == 0
    exported = tmp_path / "registry.csv"
    out = await fangpin(intake, "households", "export", "-o", str(exported), "--headers", "en")
    assert out.exit_code == 0, out.output
    text = exported.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == ",".join(c.code for c in COLUMNS)
    assert len(text.splitlines()) == 1 + 3 * 2  # one row per member
    assert not list(tmp_path.glob("*.part"))
    again = await fangpin(intake, "households", "import", str(exported))
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated, 3 unchanged" in again.stderr
