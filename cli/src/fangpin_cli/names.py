"""Heads of household (户主) by household id, from the intake registry, for human output.

The replies of approval, assistance and notify carry household ids, not names; a cadre knows a
household by its head. The lookup is best effort: a household intake does not know, or an
intake that does not answer in time, leaves the name blank and never fails the command.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable
from typing import Any

import grpc

from fangpin.v1 import intake_pb2, intake_pb2_grpc
from fangpin_cli.endpoints import address
from fangpin_kit.grpcclient import channel

CONCURRENT = 16


def head_name(record: dict[str, Any]) -> str:
    """The name of the member whose relation is `head`, else of the first member."""
    members = [m for m in record.get("members") or () if isinstance(m, dict)]
    head = next((m for m in members if m.get("relation") == "head"), None)
    chosen = head or (members[0] if members else {})
    return str(chosen.get("name") or "")


def head_names(household_ids: Iterable[str], timeout: float = 3.0) -> dict[str, str]:
    """`{household_id: head's name}` for the households intake knows (best effort).

    Each lookup waits at most `timeout` seconds, the whole at most `timeout` plus a second
    per 200 households; what was found by then is returned.
    """
    wanted = sorted({h for h in household_ids if h})
    found: dict[str, str] = {}
    if not wanted:
        return found
    budget = timeout + len(wanted) / 200
    with contextlib.suppress(TimeoutError, grpc.aio.AioRpcError, OSError):
        asyncio.run(asyncio.wait_for(_lookup(wanted, timeout, found), timeout=budget))
    return found


async def _lookup(household_ids: list[str], timeout: float, found: dict[str, str]) -> None:
    """Fill `found` with the heads' names intake gives, CONCURRENT lookups at a time."""
    gate = asyncio.Semaphore(CONCURRENT)
    async with channel(address("intake")) as ch:
        stub = intake_pb2_grpc.IntakeServiceStub(ch)

        async def one(household_id: str) -> None:
            async with gate:
                try:
                    reply = await stub.GetHousehold(
                        intake_pb2.GetHouseholdRequest(household_id=household_id),
                        timeout=timeout,
                    )
                except grpc.aio.AioRpcError:
                    return
            try:
                record = json.loads(reply.json)
            except json.JSONDecodeError:
                return
            if isinstance(record, dict) and (name := head_name(record)):
                found[household_id] = name

        await asyncio.gather(*(one(h) for h in household_ids))
