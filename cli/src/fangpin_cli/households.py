"""`fangpin households ...`: the county's household registry in intake."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import typer

from fangpin.v1 import intake_pb2, intake_pb2_grpc
from fangpin_cli.csvformat import CsvError, read_csv
from fangpin_cli.endpoints import call, emit_json

app = typer.Typer(no_args_is_help=True, help="Household registry (intake).")


def _records(path: Path) -> Iterator[tuple[int, str] | tuple[int, CsvError]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        if path.suffix.lower() == ".csv":
            for line, item in read_csv(fh):
                yield (
                    (line, item)
                    if isinstance(item, CsvError)
                    else (
                        line,
                        json.dumps(item, ensure_ascii=False),
                    )
                )
            return
        for n, text in enumerate(fh, start=1):
            if text.strip():
                yield n, text.strip()


@app.command("import")
def import_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSONL or CSV"),
) -> None:
    """Import households (JSON Lines or CSV); prints a report line per rejected record."""
    local_rejects: list[dict[str, Any]] = []
    totals = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}

    async def requests() -> AsyncIterator[intake_pb2.HouseholdRecord]:
        for line, item in _records(file):
            if isinstance(item, CsvError):
                local_rejects.append(
                    {"line": item.line, "household_id": item.household_id, "error": str(item)}
                )
                continue
            yield intake_pb2.HouseholdRecord(line=line, json=item)

    async def run(stub: intake_pb2_grpc.IntakeServiceStub) -> None:
        async for outcome in stub.ImportHouseholds(requests()):
            totals[outcome.status] = totals.get(outcome.status, 0) + 1
            if outcome.status == "rejected":
                emit_json(
                    {
                        "line": outcome.line,
                        "household_id": outcome.household_id or None,
                        "error": outcome.error,
                    }
                )

    call("intake", intake_pb2_grpc.IntakeServiceStub, run)
    for reject in local_rejects:
        emit_json(reject)
    totals["rejected"] += len(local_rejects)
    typer.echo(
        "imported: {created} created, {updated} updated, {unchanged} unchanged, "
        "{rejected} rejected".format(**totals),
        err=True,
    )
    if totals["rejected"]:
        raise typer.Exit(1)


@app.command("show")
def show(household_id: str) -> None:
    """Print a household's current record (JSON)."""

    async def run(stub: intake_pb2_grpc.IntakeServiceStub) -> str:
        reply = await stub.GetHousehold(intake_pb2.GetHouseholdRequest(household_id=household_id))
        return reply.json

    emit_json(json.loads(call("intake", intake_pb2_grpc.IntakeServiceStub, run)))
