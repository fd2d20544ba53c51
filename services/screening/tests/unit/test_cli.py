"""`fangpin screen` and `fangpin rules`: the CONTRACT section 3 surface and ruleset commands."""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from screening_support import household, member, ruleset
from typer import Typer
from typer.testing import CliRunner

from fangpin_cli import rules as rules_cli
from fangpin_cli import screen as screen_cli
from fangpin_contracts.household import household_to_dict
from fangpin_kit.clock import offset_to
from fangpin_kit.parameters import load_section
from fangpin_screening.domain.batch import screen_lines
from fangpin_screening.domain.engine import compile_ruleset
from fangpin_screening.domain.parameters import SCREENING_SECTION

EXAMPLES = Path(__file__).resolve().parents[4] / "spec" / "examples"  # contract copy

app = Typer()
app.command("screen")(screen_cli.screen)
app.add_typer(rules_cli.app, name="rules")
runner = CliRunner()


def record(**kwargs: object) -> str:
    return msgspec.json.encode(household_to_dict(household(**kwargs))).decode()


def test_screen_reproduces_the_example_decisions() -> None:
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


def test_screen_as_of_defaults_to_today_in_china() -> None:
    """At 17:30 UTC on 7 February it is already 8 February in China: that is today."""
    now = datetime(2027, 2, 7, 17, 30, tzinfo=UTC)
    result = runner.invoke(app, ["screen", "-"], input=record() + "\n", env=on(now))
    assert json.loads(result.stdout)["as_of"] == "2027-02-08"


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


def on(instant: datetime) -> dict[str, str]:
    """The CLI's environment with its clock reading `instant`."""
    return {"FANGPIN_CLOCK_OFFSET_SECONDS": str(offset_to(instant))}


def test_rules_check_warns_naming_the_years_counted_monday_to_friday() -> None:
    spring_2027 = runner.invoke(app, ["rules", "check"], env=on(datetime(2027, 3, 1, tzinfo=UTC)))
    assert spring_2027.exit_code == 0, spring_2027.output
    assert "WARNING calendar: 2027, 2028 not in chinesecalendar" in spring_2027.stderr
    assert "count Monday-Friday" in spring_2027.stderr
    mid_2025 = runner.invoke(app, ["rules", "check"], env=on(datetime(2025, 6, 1, tzinfo=UTC)))
    assert mid_2025.exit_code == 0 and "WARNING" not in mid_2025.stderr


def test_rules_check_takes_a_year_from_the_calendar_file(tmp_path: Path) -> None:
    rulesets = Path(__file__).resolve().parents[4] / "rulesets"
    shutil.copytree(rulesets, tmp_path / "rulesets")
    (tmp_path / "rulesets" / "calendar.yaml").write_text(
        "holidays: [2027-02-08]\nworkdays: []\ncomplete_years: [2027]\n"
    )
    args = ["rules", "check", "--dir", str(tmp_path / "rulesets")]
    result = runner.invoke(app, args, env=on(datetime(2027, 3, 1, tzinfo=UTC)))
    assert result.exit_code == 0, result.output
    assert "WARNING calendar: 2028 not in" in result.stderr


def test_rules_check_reports_file_key_and_reason(tmp_path: Path) -> None:
    (tmp_path / "cn").mkdir()
    bad = (Path(__file__).resolve().parents[4] / "rulesets" / "cn" / "screening.yaml").read_text()
    bad = bad.replace("value: 7300,", "value: 7300.0.0,")
    (tmp_path / "cn" / "screening.yaml").write_text(bad)
    result = runner.invoke(app, ["rules", "check", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "screening.yaml: monitoring_threshold.values[3].value: expected number" in result.stderr


# -- the streaming path: workers read the input descriptor in turn, write in input order ---


def stream_rows(count: int, bad_every: int = 37) -> list[str]:
    rows = []
    for k in range(count):
        if k % bad_every == 5:
            rows.append("not json")
        else:
            rows.append(record(per_capita=float(4000 + 20 * k)))
    return rows


def expected_output(rows: list[str]) -> bytes:
    lines = [row.encode() for row in rows]
    return screen_lines(lines, 1, ruleset()).text.encode()


def test_workers_read_a_pipe_that_already_buffered_part_of_the_input(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(stream_rows(200)) + "\n")
    # another process writes the pipe in odd-sized pieces, so reads return less than asked
    # (a writer in this process would keep the pipe open in the forked workers too)
    feeder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "data = open(sys.argv[1], 'rb').read()\n"
            "for start in range(0, len(data), 777):\n"
            "    sys.stdout.buffer.write(data[start : start + 777]); sys.stdout.flush()\n",
            str(source),
        ],
        stdout=subprocess.PIPE,
    )
    sink = tmp_path / "out.jsonl"
    assert feeder.stdout is not None
    with feeder.stdout as pipe, sink.open("wb") as dst:
        assert pipe.peek(1)  # the stream holds bytes the descriptor will not give again
        rejected = screen_cli.screen_stream(pipe, dst, ruleset(), workers=2, block_bytes=1000)
    assert feeder.wait() == 0
    assert sink.read_bytes() == expected_output(stream_rows(200))
    assert rejected == sum(1 for k in range(200) if k % 37 == 5)


@pytest.mark.parametrize("ending", ["", "\n", "\n\n"])
def test_lines_longer_than_a_block_and_any_ending_keep_their_numbers(
    tmp_path: Path, ending: str
) -> None:
    rows = stream_rows(40, bad_every=9)
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(rows) + ending)
    sink = tmp_path / "out.jsonl"
    with source.open("rb") as src, sink.open("wb") as dst:
        screen_cli.screen_stream(src, dst, ruleset(), workers=2, block_bytes=64)
    expected_rows = rows + ([""] if ending == "\n\n" else [])  # a blank last line is a line
    assert sink.read_bytes() == expected_output(expected_rows)


def test_read_chunks_cut_at_the_last_newline_read_and_finish_long_lines() -> None:
    data = b"a\n\nbb\n" + b"c" * 10 + b"\n"
    assert list(screen_cli.read_chunks(io.BytesIO(data), block_bytes=4)) == [
        (b"a\n\nbb", 1),  # 4 bytes, then 4 more up to a newline; "cc" waits for the next
        (b"c" * 10, 4),  # a line longer than a block is read to its end
    ]
    assert list(screen_cli.read_chunks(io.BytesIO(b"\n"))) == [(b"", 1)]


def test_a_failing_worker_stops_the_others_and_the_error_reaches_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = screen_cli.screen_bytes

    def fail_late(lines: list[bytes], first_line: int, compiled: object) -> object:
        if first_line > 50:
            raise MemoryError("simulated")
        return real(lines, first_line, compiled)  # type: ignore[arg-type]

    monkeypatch.setattr(screen_cli, "screen_bytes", fail_late)  # forked workers inherit it
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(stream_rows(200)) + "\n")
    with (
        source.open("rb") as src,
        (tmp_path / "out.jsonl").open("wb") as dst,
        pytest.raises(RuntimeError, match="MemoryError: simulated"),
    ):
        screen_cli.screen_stream(src, dst, ruleset(), workers=2, block_bytes=2000)


def test_a_closed_reader_ends_the_workers_with_a_broken_pipe(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(stream_rows(300)) + "\n")
    read, write = os.pipe()
    os.close(read)
    with (
        source.open("rb") as src,
        os.fdopen(write, "wb") as dst,
        pytest.raises(BrokenPipeError),
    ):
        screen_cli.screen_stream(src, dst, ruleset(), workers=2, block_bytes=2000)


def test_the_cli_process_screens_a_multi_block_file_and_stdin_alike(tmp_path: Path) -> None:
    rows = stream_rows(3000, bad_every=701)  # about 2.5 MB: more than one block
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(rows) + "\n")
    fangpin = str(Path(sys.executable).with_name("fangpin"))
    command = [fangpin, "screen", "--as-of", "2024-06-29", "--workers", "2"]
    from_file = subprocess.run([*command, str(source)], capture_output=True, check=False)
    with source.open("rb") as stdin:
        from_stdin = subprocess.run([*command, "-"], stdin=stdin, capture_output=True, check=False)
    compiled = compile_ruleset(load_section(SCREENING_SECTION), date(2024, 6, 29))
    expected = screen_lines([row.encode() for row in rows], 1, compiled).text.encode()
    assert from_file.returncode == from_stdin.returncode == 1, from_file.stderr
    assert from_file.stdout == from_stdin.stdout == expected


def test_the_output_pipe_is_widened_and_other_outputs_are_left_alone(tmp_path: Path) -> None:
    read, write = os.pipe()
    try:
        assert screen_cli.widen_pipe(write, 1 << 18)
        assert fcntl.fcntl(write, fcntl.F_GETPIPE_SZ) == 1 << 18
    finally:
        os.close(read)
        os.close(write)
    with (tmp_path / "out").open("wb") as regular:
        assert not screen_cli.widen_pipe(regular.fileno())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=30),
    st.booleans(),
    st.integers(min_value=1, max_value=20),
)
def test_chunks_hold_every_line_once_in_order_with_its_number(
    lines: list[bytes], final_newline: bool, block_bytes: int
) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    expected = [] if not data else data.removesuffix(b"\n").split(b"\n")
    got: list[bytes] = []
    for blob, first_line in screen_cli.read_chunks(io.BytesIO(data), block_bytes=block_bytes):
        assert first_line == len(got) + 1
        got.extend(blob.split(b"\n"))
    assert got == expected
