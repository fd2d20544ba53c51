"""`fangpin households ...`: the county's household registry in intake.

`import` reads JSON Lines, CSV (UTF-8, UTF-8 with BOM or GBK/GB18030, detected) or XLSX,
with English or Chinese column names (see `fangpin_contracts.household_columns`), and streams
the households to intake: one JSON report line per rejected household on standard output
(`{"line": ..., "household_id": ..., "error": "path: reason"}`), a summary on standard error.
Exit status: 0 all imported, 1 some rejected, 2 unusable input (one line saying why).
`export` streams the registry out (JSON Lines, CSV, XLSX); `convert` turns a file into
another format offline, checking each household (e.g. a workbook into JSON Lines for
`fangpin screen`); `template` writes the workbook to fill in. `import`, `export` and
`convert` show progress on a terminal (`fangpin_cli.progress`).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NoReturn

import typer
from google.protobuf.json_format import MessageToDict

from fangpin.v1 import common_pb2, intake_pb2, intake_pb2_grpc
from fangpin_cli.endpoints import call, emit_json
from fangpin_cli.exporting import sink_for
from fangpin_cli.importing import Item, Source, explain, open_source
from fangpin_cli.output import JsonFlag, LangOption, emit_one, household_view
from fangpin_cli.paging import After, AllPages, OldestFirst, follow, limit_option, next_page_hint
from fangpin_cli.progress import progress
from fangpin_cli.unusable import UnusableInput
from fangpin_cli.xlsxformat import write_template
from fangpin_contracts.household import RecordError, validate_household

app = typer.Typer(no_args_is_help=True, help="Household registry (intake).")

STATUSES = ("created", "updated", "unchanged", "rejected")


def _unusable(command: str, problem: UnusableInput) -> NoReturn:
    typer.echo(f"fangpin households {command}: {problem}", err=True)
    raise typer.Exit(2)


@app.command("import")
def import_(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="households: .jsonl, .csv or .xlsx"
    ),
    format_: str | None = typer.Option(
        None, "--format", help="jsonl, csv or xlsx (default: from the file name)"
    ),
    encoding: str | None = typer.Option(
        None,
        "--encoding",
        help="encoding of a CSV or JSON Lines file (default: UTF-8 or GB18030/GBK, detected)",
    ),
    sheet: str | None = typer.Option(None, "--sheet", help="XLSX sheet (default: the first)"),
) -> None:
    """Import households; prints a report line per rejected household (exit 1 if any)."""
    try:
        source = open_source(file, format_, encoding, sheet)
    except UnusableInput as problem:
        _unusable("import", problem)
    with source:
        if source.ignored:
            typer.echo(
                "fangpin households import: ignoring columns the household schema does not "
                f"have: {', '.join(source.ignored)}",
                err=True,
            )
        started = time.monotonic()
        totals, problem = _import(source)
        seconds = time.monotonic() - started
    count = sum(totals.values())
    typer.echo(
        "imported: {created} created, {updated} updated, {unchanged} unchanged, "
        "{rejected} rejected".format(**totals)
        + f" ({count:,} households in {seconds:.1f} s, {count / max(seconds, 1e-9):,.0f}/s)",
        err=True,
    )
    if problem is not None:
        typer.echo(
            f"fangpin households import: stopped: {problem} (the households read before it "
            "are imported; importing the fixed file again leaves them unchanged)",
            err=True,
        )
        raise typer.Exit(2)
    if totals["rejected"]:
        raise typer.Exit(1)


def _report(line: int, household_id: str | None, error: str) -> None:
    emit_json({"line": line, "household_id": household_id or None, "error": error})


def _import(source: Source) -> tuple[dict[str, int], UnusableInput | None]:
    """Stream the source's households to intake; (counts by status, a problem that stopped
    the reading)."""
    totals = dict.fromkeys(STATUSES, 0)
    stopped: list[UnusableInput] = []
    failed: list[Exception] = []  # a bug while reading: raised here, not as gRPC's CancelledError
    # households sent and not yet answered, by line: the item and how far into the file it
    # ends (the progress is what intake answered, not what was read ahead into the stream)
    waiting: dict[int, tuple[Item, int]] = {}

    with progress(f"import {source.path.name}", total=source.total, unit="households") as track:

        async def requests() -> AsyncIterator[intake_pb2.HouseholdRecord]:
            try:
                for item in source.items():
                    if item.json is None:
                        assert item.error is not None
                        _report(item.line, item.household_id, item.error)
                        totals["rejected"] += 1
                        track.advance(rejected=1)
                        continue
                    waiting[item.line] = (item, source.position)
                    yield intake_pb2.HouseholdRecord(line=item.line, json=item.json)
            except UnusableInput as problem:  # e.g. undecodable bytes further down the file
                stopped.append(problem)
            except Exception as exc:
                failed.append(exc)

        async def run(stub: intake_pb2_grpc.IntakeServiceStub) -> None:
            async for outcome in stub.ImportHouseholds(requests()):
                item, position = waiting.pop(outcome.line, (None, None))
                if position is not None:
                    track.position(position)
                totals[outcome.status] = totals.get(outcome.status, 0) + 1
                rejected = outcome.status == "rejected"
                if rejected:
                    row, text = explain(outcome.error, item, source.header)
                    _report(row or outcome.line, outcome.household_id, text)
                track.advance(rejected=int(rejected))

        call("intake", intake_pb2_grpc.IntakeServiceStub, run)
    if failed:
        raise failed[0]
    return totals, (stopped[0] if stopped else None)


@app.command("export")
def export(
    out: Path | None = typer.Option(
        None, "--out", "-o", help=".jsonl, .csv or .xlsx (default: JSON Lines on standard output)"
    ),
    village: str = typer.Option("", "--village", help="county, town or village code prefix"),
    format_: str | None = typer.Option(
        None, "--format", help="jsonl, csv or xlsx (default: from --out)"
    ),
    headers: str = typer.Option("zh", "--headers", help="CSV/XLSX column names: zh or en"),
    encoding: str | None = typer.Option(
        None, "--encoding", help="CSV encoding (default utf-8-sig, which Excel opens)"
    ),
) -> None:
    """Export the registry (in household_id order), e.g. to fix it in Excel and import again."""
    try:
        sink = sink_for(out, format_, headers, encoding)
    except UnusableInput as problem:
        _unusable("export", problem)

    async def run(stub: intake_pb2_grpc.IntakeServiceStub) -> int:
        total = None
        if not village:
            stats = await stub.GetStats(common_pb2.StatsRequest())
            total = stats.counts.get("households")
        with progress("export", total=total, unit="households", rejects=False) as track:
            request = intake_pb2.ExportHouseholdsRequest(village=village)
            async for reply in stub.ExportHouseholds(request):
                sink.write(json.loads(reply.json))
                track.advance()
            return track.done

    try:
        count = call("intake", intake_pb2_grpc.IntakeServiceStub, run)
        sink.finish()
    except UnusableInput as problem:
        sink.abandon()
        _unusable("export", problem)
    except BaseException:
        sink.abandon()
        raise
    where = "" if out is None else f" to {out}"
    typer.echo(f"exported: {count:,} households{where}", err=True)


@app.command("convert")
def convert(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="households: .jsonl, .csv or .xlsx"
    ),
    out: Path = typer.Option(..., "--out", "-o", help="the file to write: .jsonl, .csv or .xlsx"),
    format_: str | None = typer.Option(
        None, "--format", help="input format: jsonl, csv or xlsx (default: from the file name)"
    ),
    encoding: str | None = typer.Option(
        None, "--encoding", help="input encoding of CSV or JSON Lines (default: detected)"
    ),
    sheet: str | None = typer.Option(None, "--sheet", help="XLSX sheet (default: the first)"),
    headers: str = typer.Option("zh", "--headers", help="CSV/XLSX column names: zh or en"),
) -> None:
    """Convert a household file offline (no service), checking each household against the
    schema: e.g. a county workbook to JSON Lines for `fangpin screen`. Rejected households
    get a report line as in `import` and are left out (exit 1)."""
    try:
        source = open_source(file, format_, encoding, sheet)
        sink = sink_for(out, None, headers, None)
    except UnusableInput as problem:
        _unusable("convert", problem)
    written = rejected = 0
    try:
        with source, progress(f"convert {file.name}", total=source.total) as track:
            for item in source.items():
                track.position(source.position)
                record, error = _checked(item)
                if record is None:
                    line, text = explain(error, item, source.header)
                    _report(line or item.line, item.household_id, text)
                    rejected += 1
                else:
                    sink.write(record)
                    written += 1
                track.advance(rejected=int(record is None))
        sink.finish()
    except UnusableInput as problem:
        sink.abandon()
        _unusable("convert", problem)
    except BaseException:
        sink.abandon()
        raise
    typer.echo(f"converted: {written:,} households to {out}, {rejected:,} rejected", err=True)
    if rejected:
        raise typer.Exit(1)


def _checked(item: Item) -> tuple[dict[str, Any] | None, str]:
    """The item's record if it is a valid v1 household, else (None, "path: reason")."""
    if item.json is None:
        return None, item.error or ""
    try:
        record = json.loads(item.json)
    except json.JSONDecodeError as exc:
        return None, f": invalid JSON ({exc.msg})"
    try:
        validate_household(record)
    except RecordError as exc:
        return None, str(exc)
    return record, ""


@app.command("template")
def template(
    out: Path = typer.Option(..., "--out", "-o", help="the workbook to write (.xlsx)"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing file"),
) -> None:
    """Write the household workbook to fill in: Chinese header row, and a sheet 填写说明
    explaining each column and its allowed values."""
    if out.suffix.lower() != ".xlsx":
        _unusable("template", UnusableInput(f"{out.name}: the template is an .xlsx workbook"))
    if out.exists() and not force:
        _unusable("template", UnusableInput(f"{out} exists (--force overwrites it)"))
    try:
        write_template(out)
    except OSError as exc:
        _unusable("template", UnusableInput(f"{out}: cannot be written ({exc.strerror or exc})"))
    typer.echo(f"template written: {out}", err=True)


@app.command("show")
def show(household_id: str, as_json: bool = JsonFlag, lang: str = LangOption) -> None:
    """A household's current record: its file (members with ID numbers masked, income items
    in yuan) on a terminal, else the record as one JSON line."""

    async def run(stub: intake_pb2_grpc.IntakeServiceStub) -> str:
        reply = await stub.GetHousehold(intake_pb2.GetHouseholdRequest(household_id=household_id))
        return reply.json

    record = json.loads(call("intake", intake_pb2_grpc.IntakeServiceStub, run))
    emit_one(record, as_json=as_json, lang=lang, view=household_view)


@app.command("clues")
def clues(
    household: str = typer.Option("", "--household", help="one household's clues"),
    status: str = typer.Option("", "--status", help="open | closed"),
    limit: int = limit_option(100, "newest first"),
    after: str = After,
    all_pages: bool = AllPages,
    oldest_first: bool = OldestFirst,
) -> None:
    """Risk clues (风险线索) from warnings and declarations, one JSON line each."""
    request = intake_pb2.ListCluesRequest(
        household_id=household, status=status, limit=limit, oldest_first=oldest_first
    )

    async def run(stub: intake_pb2_grpc.IntakeServiceStub) -> intake_pb2.ListCluesResponse:
        return await follow(stub.ListClues, request, "clues", after=after, all_pages=all_pages)

    reply = call("intake", intake_pb2_grpc.IntakeServiceStub, run)
    for clue in reply.clues:
        emit_json(MessageToDict(clue, preserving_proto_field_name=True))
    next_page_hint(reply)
