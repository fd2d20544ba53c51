"""A Typer app whose sub-commands are imported only when one of them is used (fast start-up)."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any, ClassVar

import typer
from typer import _click
from typer.core import MarkupMode, TyperGroup
from typer.main import get_group


@dataclass(frozen=True)
class _Entry:
    """Where command(s) live (`module:attribute`) and how they are added to the app."""

    names: tuple[str, ...]
    target: str
    install: bool

    def load(self, markup_mode: MarkupMode) -> dict[str, _click.Command]:
        """Import the target and build its click command(s), exactly as eager registration,
        with the help markup mode of the app they join."""
        module_name, _, attribute = self.target.partition(":")
        obj = getattr(import_module(module_name), attribute)
        holder = typer.Typer(rich_markup_mode=markup_mode)
        holder.callback()(_no_options)  # a group even for one command
        if self.install:
            obj(holder)
        elif isinstance(obj, typer.Typer):
            holder.add_typer(obj, name=self.names[0])
        else:
            holder.command(self.names[0])(obj)
        built = get_group(holder).commands
        missing = [name for name in self.names if name not in built]
        if missing:
            raise LookupError(f"{self.target} did not register {', '.join(missing)}")
        return {name: built[name] for name in self.names}


def _no_options() -> None:
    return None


class _LazyCommands(MutableMapping[str, _click.Command]):
    """A group's commands: registered ones, plus lazy ones built on first access.

    Listing the names (help, suggestions, completion) imports nothing; reading a command
    imports its module once.
    """

    def __init__(
        self,
        eager: MutableMapping[str, _click.Command],
        lazy: dict[str, _Entry],
        markup_mode: MarkupMode = None,
    ):
        self._eager = eager
        self._lazy = lazy
        self._markup_mode = markup_mode

    def __getitem__(self, name: str) -> _click.Command:
        if name not in self._eager:
            entry = self._lazy[name]  # KeyError for an unknown name, as a dict
            self._eager.update(entry.load(self._markup_mode))
        return self._eager[name]

    def __setitem__(self, name: str, command: _click.Command) -> None:
        self._eager[name] = command

    def __delitem__(self, name: str) -> None:
        self._eager.pop(name, None)
        if self._lazy.pop(name, None) is None and name not in self._eager:
            raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        # a snapshot: reading a lazy command while iterating moves its names into `_eager`
        names = list(self._eager)
        names.extend(name for name in self._lazy if name not in self._eager)
        return iter(names)

    def __len__(self) -> int:
        return len(self._eager) + sum(1 for name in self._lazy if name not in self._eager)

    def __contains__(self, name: object) -> bool:
        return name in self._eager or name in self._lazy


class _LazyGroup(TyperGroup):
    lazy: ClassVar[dict[str, _Entry]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(self.commands, dict(self.lazy), self.rich_markup_mode)

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        return self.commands.get(cmd_name)


class LazyTyper(typer.Typer):
    """`typer.Typer` plus `lazy(...)`: commands registered by where they live, imported on use.

    Eager registration (`add_typer`, `command`) still works alongside. Help is plain text
    unless `rich_markup_mode` is given: `[...]` in a help (`ID/NAME[/ROLE]`, `type.sub[@member]`)
    is shown as written, never read as rich markup (which crashes or drops it).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("rich_markup_mode", None)
        self._lazy: dict[str, _Entry] = {}
        group = type("LazyTyperGroup", (_LazyGroup,), {"lazy": self._lazy})
        super().__init__(cls=group, **kwargs)
        self.callback()(_no_options)

    def lazy(self, names: str, target: str, *, install: bool = False) -> None:
        """Register command `names` (space separated) found at `target` (`module:attribute`).

        The attribute is a `typer.Typer` (added as the sub-command group `names`), a command
        function (the command `names`), or with `install=True` a function taking the app that
        registers every one of `names` itself (e.g. `register(app)` adding three groups).
        """
        entry = _Entry(tuple(names.split()), target, install)
        if not entry.names or ":" not in target:
            raise ValueError(f"lazy({names!r}, {target!r}): expected names and 'module:attribute'")
        if len(entry.names) > 1 and not install:
            raise ValueError(f"lazy({names!r}, ...): several names need install=True")
        for name in entry.names:
            self._lazy[name] = entry
