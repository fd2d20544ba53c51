"""Paging of the `... list` commands: the shared options (--limit, --after, --all) and the loop
that follows next_page_token.

stdout keeps only the rows (JSON lines or a table); where the next page starts goes to stderr,
`next page: --after TOKEN`, so scripts reading the lines are not disturbed and a person sees
how to go on. `--all` follows the tokens to the last page (`--limit` is then the page size).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import typer

MAX_PAGE_SIZE = 1000

After = typer.Option(
    "",
    "--after",
    metavar="TOKEN",
    help="continue where a previous listing stopped (the TOKEN it printed on stderr)",
)
AllPages = typer.Option(
    False, "--all", "--all-pages", help="follow the pages to the end (--limit per page)"
)
# for a command whose `--all` already means something else (notify subscriptions)
AllPagesOnly = typer.Option(
    False, "--all-pages", help="follow the pages to the end (--limit per page)"
)
OldestFirst = typer.Option(False, "--oldest-first", help="oldest first (default newest first)")


def limit_option(default: int = 100, order: str = "") -> Any:
    """`--limit`: the page size, at most MAX_PAGE_SIZE; `order` says how rows are sorted."""
    sorted_by = f", {order}" if order else ""
    return typer.Option(default, "--limit", help=f"rows per page (max {MAX_PAGE_SIZE}){sorted_by}")


class PagedReply(Protocol):
    next_page_token: str


class PagedRequest(Protocol):
    page_token: str


Q = TypeVar("Q", bound=PagedRequest)
R = TypeVar("R", bound=PagedReply)


async def follow(
    rpc: Callable[[Q], Awaitable[R]], request: Q, items: str, *, after: str, all_pages: bool
) -> R:
    """`rpc(request)` for the page after `after` ("" = the first) and, with `all_pages`, for
    every page after it, as one reply: the rows of all of them under `items` and the last
    page's token."""
    request.page_token = after
    reply = await rpc(request)
    while all_pages and reply.next_page_token:
        request.page_token = reply.next_page_token
        more = await rpc(request)
        getattr(reply, items).extend(getattr(more, items))
        reply.next_page_token = more.next_page_token
    return reply


def next_page_hint(reply: PagedReply, what: str = "") -> None:
    """Say on stderr where the next page starts, if there is one."""
    if reply.next_page_token:
        of = f" of {what}" if what else ""
        typer.echo(f"next page{of}: --after {reply.next_page_token}", err=True)
