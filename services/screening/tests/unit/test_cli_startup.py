"""`fangpin` imports a sub-command's module only when it runs: `screen` starts without the rest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fangpin_cli.lazy import LazyTyper
from fangpin_cli.main import app

HEAVY = ("sqlalchemy", "alembic", "grpc", "google.protobuf", "nats", "faststream")


def test_help_lists_every_registered_command() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    names = list(app._lazy)
    assert {"screen", "rules", "households", "run", "case", "register", "audit"} <= set(names)
    for name in names:
        assert name in result.stdout


def test_screen_runs_without_importing_the_service_clients(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("{}\n")
    probe = (
        "import json, sys\n"
        "from fangpin_cli.main import app\n"
        "try:\n"
        f"    app(['screen', {str(source)!r}, '--as-of', '2024-06-29'])\n"
        "except SystemExit as done:\n"
        f"    loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "    sys.stderr.write(json.dumps([done.code, loaded]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    status, loaded = json.loads(result.stderr.splitlines()[-1])
    assert status == 1 and json.loads(result.stdout)["line"] == 1  # `{}` is rejected
    assert loaded == []


def test_an_unknown_command_is_refused_with_a_suggestion() -> None:
    result = CliRunner().invoke(app, ["scren"])
    assert result.exit_code == 2
    assert "screen" in result.output


def sub_app() -> typer.Typer:
    group = typer.Typer()

    @group.command("hello")
    def hello() -> None:
        typer.echo("hello from the group")

    return group


GROUP = sub_app()


def shout(word: str) -> None:
    """Say a word loudly."""
    typer.echo(word.upper())


def install_two(root: typer.Typer) -> None:
    root.add_typer(sub_app(), name="first")
    root.add_typer(sub_app(), name="second")


def test_lazy_entries_work_as_eager_registration() -> None:
    here = __name__
    lazy = LazyTyper(no_args_is_help=True)
    lazy.lazy("group", f"{here}:GROUP")
    lazy.lazy("shout", f"{here}:shout")
    lazy.lazy("first second", f"{here}:install_two", install=True)
    runner = CliRunner()
    assert runner.invoke(lazy, ["group", "hello"]).stdout == "hello from the group\n"
    assert runner.invoke(lazy, ["shout", "quiet"]).stdout == "QUIET\n"
    assert runner.invoke(lazy, ["second", "hello"]).stdout == "hello from the group\n"
    assert "Say a word loudly" in runner.invoke(lazy, ["--help"]).stdout


def test_lazy_registration_mistakes_are_reported() -> None:
    lazy = LazyTyper()
    with pytest.raises(ValueError, match="install=True"):
        lazy.lazy("first second", f"{__name__}:install_two")
    with pytest.raises(ValueError, match="module:attribute"):
        lazy.lazy("shout", "no_attribute_given")
    lazy.lazy("first third", f"{__name__}:install_two", install=True)
    result = CliRunner().invoke(lazy, ["first", "hello"])
    assert isinstance(result.exception, LookupError)
    assert "did not register third" in str(result.exception)
