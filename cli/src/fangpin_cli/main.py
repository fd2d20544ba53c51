"""`fangpin`: the operator's and cadre's command line, a gRPC client of the services."""

from __future__ import annotations

from fangpin_cli.lazy import LazyTyper

app = LazyTyper(no_args_is_help=True, help="fangpin (防贫): monitoring and assistance suite")
# One line per command: its name(s) and where it lives ("module:attribute"): a typer.Typer
# (a command group), a command function, or with install=True a function adding `names`
# to the app it is given. A module is imported only when one of its commands runs (or --help).
app.lazy("households", "fangpin_cli.households:app")
app.lazy("ops", "fangpin_cli.ops:app")
app.lazy("run", "fangpin_cli.ops:run")
app.lazy("screen", "fangpin_cli.screen:screen")
app.lazy("screening", "fangpin_cli.screening:app")
app.lazy("elimination", "fangpin_cli.screening:elimination_app")
app.lazy("rules", "fangpin_cli.rules:app")
app.lazy("warn", "fangpin_cli.warn:app")
app.lazy("plan measures followup", "fangpin_cli.assistance:register", install=True)
app.lazy("dept", "fangpin_cli.dept:app")
app.lazy("demo", "fangpin_cli.walk:app")
app.lazy("case register audit", "fangpin_cli.case:install", install=True)
app.lazy("notify", "fangpin_cli.notify:app")

if __name__ == "__main__":
    app()
