"""`fangpin warn send`: publish a department warning (部门预警) the way a department system does."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from pydantic import ValidationError

from fangpin_cli.bus import nats_url, publish_warnings
from fangpin_cli.today import today
from fangpin_contracts.events import Warning

app = typer.Typer(no_args_is_help=True, help="Department warnings on the bus.")


@app.command("send")
def send(
    dept: str = typer.Option(..., help="department code, e.g. medical_insurance"),
    kind: str = typer.Option(..., help="warning kind, e.g. high_medical_expense"),
    household_id: str = typer.Option(..., "--household", help="household id (户编号)"),
    county: str = typer.Option(..., help="county code"),
    id_number: str | None = typer.Option(None, help="the member concerned"),
    amount: float | None = typer.Option(None, help="yuan, for expense and loss warnings"),
    observed_at: str = typer.Option("", help="YYYY-MM-DD (default today, in China)"),
    household_file: Path | None = typer.Option(None, help="attach a v1 household record (JSON)"),
    event_id: str | None = typer.Option(None, help="stable id, so a resend is a duplicate"),
    url: str | None = typer.Option(None, "--nats", help="NATS URL (default: make run's)"),
) -> None:
    """Validate and publish one warning on `fp.<county>.warning.<dept>`."""
    data: dict[str, object] = {
        "dept": dept,
        "kind": kind,
        "household_id": household_id,
        "observed_at": observed_at or today().isoformat(),
    }
    if id_number:
        data["id_number"] = id_number
    if amount is not None:
        data["amount"] = amount
    if household_file:
        data["household"] = json.loads(household_file.read_text(encoding="utf-8"))
    try:
        Warning.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        typer.echo(f"error: {field}: {first['msg']}", err=True)
        raise typer.Exit(2) from err
    item = {"event_id": event_id, "data": data} if event_id else {"data": data}
    published, _ = asyncio.run(publish_warnings(nats_url(url), county, [item], "fangpin/cli"))
    typer.echo("published" if published else "duplicate: already on the bus")
