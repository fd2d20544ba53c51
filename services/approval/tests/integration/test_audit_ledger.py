"""The audit ledger in the store: append-only, chained, and `fangpin audit verify` names a break."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest
import sqlalchemy as sa
from approval_integration import committed, decision, tamper
from typer.testing import CliRunner

from fangpin_approval.adapters.orm import LedgerEntryRow
from fangpin_approval.domain.ledger import GENESIS_HASH, Problem
from fangpin_approval.service_layer import handlers
from fangpin_approval.service_layer.handlers import ApprovalContext
from fangpin_cli.main import app
from fangpin_kit.db import Database


async def three_cases(db: Database, ctx: ApprovalContext) -> None:
    for n in range(1, 4):
        await committed(
            db,
            lambda uow, n=n: handlers.on_screening_decided(
                uow, ctx, decision(f"H0000{n}", f"D-{n}")
            ),
        )


async def verify(db: Database) -> handlers.AuditResult:
    async with db.sessions() as session:
        return await handlers.verify_audit(session, chunk=4)


async def test_entries_chain_one_after_another_from_the_genesis_hash(
    db: Database, ctx: ApprovalContext
) -> None:
    await three_cases(db, ctx)
    async with db.sessions() as session:
        rows = list(
            (
                await session.execute(sa.select(LedgerEntryRow).order_by(LedgerEntryRow.seq))
            ).scalars()
        )
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert json.loads(rows[0].record)["household_id"] == "H00001"
    result = await verify(db)  # in chunks of 4
    assert (result.verification.ok, result.verification.checked, result.entries) == (True, 6, 6)
    assert result.head == rows[-1].hash


async def test_concurrent_appends_from_different_cases_never_fork_the_chain(
    db: Database, ctx: ApprovalContext
) -> None:
    async def one(n: int) -> None:
        await committed(
            db,
            lambda uow: handlers.on_screening_decided(uow, ctx, decision(f"H1{n:04d}", f"D-{n}")),
        )

    await asyncio.gather(*(one(n) for n in range(8)))
    assert (await verify(db)).verification.ok
    assert (await verify(db)).verification.checked == 16


async def test_the_store_refuses_to_update_or_delete_an_entry(
    db: Database, ctx: ApprovalContext
) -> None:
    await three_cases(db, ctx)
    for statement in (
        "UPDATE audit_ledger SET record = '{}' WHERE seq = 2",
        "DELETE FROM audit_ledger WHERE seq = 2",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            async with db.engine.begin() as conn:
                await conn.execute(sa.text(statement))
    assert (await verify(db)).verification.ok


async def test_an_entry_edited_in_the_store_is_named(db: Database, ctx: ApprovalContext) -> None:
    await three_cases(db, ctx)
    await tamper(
        db, "UPDATE audit_ledger SET record = replace(record, 'H00002', 'H00009') WHERE seq = 3"
    )
    result = (await verify(db)).verification
    assert (result.ok, result.problem, result.seq) == (False, Problem.EDITED, 3)


async def test_an_edit_that_rehashes_the_entry_is_named_by_the_next_link(
    db: Database, ctx: ApprovalContext
) -> None:
    await three_cases(db, ctx)
    await tamper(db, "UPDATE audit_ledger SET hash = '" + "a" * 64 + "' WHERE seq = 4")
    result = (await verify(db)).verification
    assert (result.problem, result.seq) == (Problem.EDITED, 4)


async def test_a_cut_tail_is_caught_against_the_anchored_head(
    db: Database, ctx: ApprovalContext
) -> None:
    await three_cases(db, ctx)
    await tamper(db, "DELETE FROM audit_ledger WHERE seq >= 5")
    result = (await verify(db)).verification
    assert (result.problem, result.seq) == (Problem.TRUNCATED, 5)
    assert "entries 5-6 were deleted" in result.message


async def test_fangpin_audit_verify_exits_1_naming_the_entry_edited_in_the_store(
    db: Database, ctx: ApprovalContext, grpc_target: str
) -> None:
    await three_cases(db, ctx)
    runner = CliRunner()
    env = {"FANGPIN_APPROVAL_ADDR": grpc_target}
    ok = await asyncio.to_thread(runner.invoke, app, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "audit ledger intact: 6 entries" in ok.output
    await tamper(
        db, "UPDATE audit_ledger SET record = replace(record, 'marginal', 'x') WHERE seq = 4"
    )
    broken = await asyncio.to_thread(runner.invoke, app, ["audit", "verify"], env=env)
    assert broken.exit_code == 1
    assert "audit ledger BROKEN at entry 4 (edited)" in broken.output
    await tamper(db, "DELETE FROM audit_ledger WHERE seq = 2")
    gap = await asyncio.to_thread(runner.invoke, app, ["audit", "verify"], env=env)
    assert gap.exit_code == 1
    assert "BROKEN at entry 2 (deleted): entry 2 is missing before entry 3" in gap.output
