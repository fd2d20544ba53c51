"""`fangpin`: the operator's and cadre's command line, a gRPC client of the services."""

from __future__ import annotations

import typer

from fangpin_cli import households, ops, rules, screen

app = typer.Typer(no_args_is_help=True, help="fangpin (防贫): monitoring and assistance suite")
app.add_typer(households.app, name="households")
app.add_typer(ops.app, name="ops")
app.command("run")(ops.run)
app.command("screen")(screen.screen)
app.add_typer(rules.app, name="rules")
