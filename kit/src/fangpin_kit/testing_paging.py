"""Helpers of the services' paging tests: serve one servicer over a test store on a free port,
and walk a List* RPC page by page following its next_page_token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fangpin_kit.grpcserver import GrpcServer, ServicerBinding


@asynccontextmanager
async def serving(
    servicer: Any, add_to_server: Callable[..., None], full_name: str
) -> AsyncIterator[str]:
    """`servicer` on 127.0.0.1 at a free port (no bus); yields the address."""
    server = GrpcServer("127.0.0.1", 0, [ServicerBinding(servicer, add_to_server, full_name)])
    await server.start()
    try:
        yield f"127.0.0.1:{server.port}"
    finally:
        await server.stop(0)


async def walk(
    fetch: Callable[[str], Awaitable[Any]],
    items: str,
    key: str,
    between: Callable[[int], Awaitable[None]] | None = None,
) -> list[list[str]]:
    """Each page's `key` values, following next_page_token from the first page to the last;
    `between(pages so far)` runs before each next page is asked for (rows inserted meanwhile)."""
    pages: list[list[str]] = []
    token = ""
    while True:
        reply = await fetch(token)
        pages.append([getattr(item, key) for item in getattr(reply, items)])
        if not reply.next_page_token:
            return pages
        if len(pages) > 10_000:
            raise AssertionError("the listing never ends: the token does not move forward")
        if between is not None:
            await between(len(pages))
        token = reply.next_page_token


def flat(pages: list[list[str]]) -> list[str]:
    """The keys of every page, in order."""
    return [key for page in pages for key in page]
