"""`fangpin screen` and `fangpin rules`: the CONTRACT section 3 surface and ruleset commands."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import msgspec
import pytest
from fangpin_cli import rules as rules_cli
from fangpin_cli import screen as screen_cli
from fangpin_contracts.household import household_to_dict
from screening_support import household, member, ruleset
from typer import Typer
from typer.testing import CliRunner

EXAMPLES = Path(__file__).resolve().parents[5] / "shared" / "spec" / "examples"

app = Typer()
app.command("screen")(screen_cli.screen)
app.add_typer(rules_cli.app, name="rules")
runner = CliRunner()


def record(**kwargs: object) -> str:
    return msgspec.json.encode(household_to_dict(household(**kwargs))).decode()


def test_screen_reproduces_the_example_decisions() -> None:
    if not EXAMPLES.is_dir():
        pytest.skip("shared examples not present")
    result = runner.invoke(
        app, ["screen", str(EXAMPLES / "screening_in.jsonl"), "--as-of", "2024-06-29"]
    )
    assert result.exit_code == 0, result.output
    got = [json.loads(x) for x in result.stdout.splitlines()]
    expected = [
        json.loads(x) for x in (EXAMPLES / "screening_expected.jsonl").read_text().splitlines()
    ]
    assert len(got) == len(expected)
    for line, want in zip(got, expected, strict=True):
        assert {k: line[k] for k in want} == want
        assert line["ruleset"] == "cn@2024-01-01" and line["as_of"] == "2024-06-29"


def test_screen_reads_stdin_and_exits_1_when_a_line_is_rejected() -> None:
    text = record(per_capita=5000.0) + "\n" + "{oops\n" + record(per_capita=9000.0) + "\n"
    result = runner.invoke(app, ["screen", "-", "--as-of", "2024-06-29"], input=text)
    assert result.exit_code == 1
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [("error" in x) for x in lines] == [False, True, False]
    assert lines[1]["line"] == 2


def test_screen_province_selects_its_parameters() -> None:
    text = record(per_capita=8000.0) + "\n"
    base = runner.invoke(app, ["screen", "-", "--as-of", "2024-06-29"], input=text)
    jiangxi = runner.invoke(
        app, ["screen", "-", "--as-of", "2024-06-29", "--province", "36"], input=text
    )
    other = runner.invoke(
        app, ["screen", "-", "--as-of", "2024-06-29", "--province", "11"], input=text
    )
    assert json.loads(base.stdout)["in_scope"] is False
    decided = json.loads(jiangxi.stdout)
    assert decided["in_scope"] is True and decided["threshold"] == 8500
    assert decided["ruleset"] == "cn-36@2024-01-01"
    assert json.loads(other.stdout)["ruleset"] == "cn@2024-01-01"


def test_screen_as_of_defaults_to_today() -> None:
    result = runner.invoke(app, ["screen", "-"], input=record() + "\n")
    assert json.loads(result.stdout)["as_of"] == date.today().isoformat()


@pytest.mark.parametrize(
    "args", [["--as-of", "2024-13-01"], ["--as-of", "20240629"], ["--province", "5"]]
)
def test_screen_rejects_bad_options(args: list[str]) -> None:
    result = runner.invoke(app, ["screen", "-", *args], input=record() + "\n")
    assert result.exit_code == 2


def test_screen_missing_file_exits_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["screen", str(tmp_path / "none.jsonl")]).exit_code == 2


def test_empty_input_gives_no_output_and_exit_0() -> None:
    result = runner.invoke(app, ["screen", "-", "--as-of", "2024-06-29"], input="")
    assert result.exit_code == 0 and result.stdout == ""


def test_read_chunks_keeps_whole_lines_and_numbers_them() -> None:
    data = b"a\nbb\n\nccc\nd"
    chunks = list(screen_cli.read_chunks(io.BytesIO(data), block_bytes=3))
    assert b"\n".join(blob for blob, _ in chunks).split(b"\n") == [b"a", b"bb", b"", b"ccc", b"d"]
    numbers = [first for _, first in chunks]
    assert numbers[0] == 1 and numbers == sorted(numbers)
    assert list(screen_cli.read_chunks(io.BytesIO(b"x\n"))) == [(b"x", 1)]
    assert list(screen_cli.read_chunks(io.BytesIO(b""))) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_multi_chunk_stream_keeps_input_order_in_every_worker_setup(
    tmp_path: Path, workers: int
) -> None:
    rows = []
    for k in range(300):
        if k % 37 == 5:
            rows.append("not json")
        else:
            rows.append(
                record(per_capita=float(4000 + 20 * k), members=[member(illness="chronic")])
            )
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(rows) + "\n")
    sink = tmp_path / "out.jsonl"
    with source.open("rb") as src, sink.open("wb") as dst:
        rejected = screen_cli.screen_stream(src, dst, ruleset(), workers=workers, block_bytes=4096)
    out = [json.loads(x) for x in sink.read_text().splitlines()]
    assert len(out) == 300
    assert rejected == sum(1 for k in range(300) if k % 37 == 5)
    for k, line in enumerate(out):
        if k % 37 == 5:
            assert line["line"] == k + 1
        else:
            assert line["per_capita"] == float(4000 + 20 * k)


def test_rules_list_shows_sections_and_ruleset_ids() -> None:
    result = runner.invoke(app, ["rules", "list"])
    assert result.exit_code == 0
    assert "screening" in result.stdout
    assert "cn@2024-01-01" in result.stdout and "cn-36@2024-01-01" in result.stdout


def test_rules_show_prints_values_with_references() -> None:
    result = runner.invoke(
        app, ["rules", "show", "screening", "--as-of", "2025-03-01", "--province", "53", "--json"]
    )
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert shown["ruleset"] == "cn-53@2025-01-01"
    threshold = next(p for p in shown["parameters"] if p["name"] == "monitoring_threshold")
    assert (
        threshold["value"] == 8700 and threshold["start"] == "2025-01-01" and threshold["reference"]
    )


def test_rules_check_passes_on_the_repository_rulesets() -> None:
    result = runner.invoke(app, ["rules", "check"])
    assert result.exit_code == 0, result.output


def test_rules_check_reports_file_key_and_reason(tmp_path: Path) -> None:
    (tmp_path / "cn").mkdir()
    bad = (Path(__file__).resolve().parents[4] / "rulesets" / "cn" / "screening.yaml").read_text()
    bad = bad.replace("value: 7300,", "value: 7300.0.0,")
    (tmp_path / "cn" / "screening.yaml").write_text(bad)
    result = runner.invoke(app, ["rules", "check", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "screening.yaml: monitoring_threshold.values[3].value: expected number" in result.stderr
