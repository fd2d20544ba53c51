"""The outbox relay: publishes committed events in order and marks them sent."""

from __future__ import annotations

import asyncio
import contextlib

import nats
import sqlalchemy as sa

from fangpin_contracts.cloudevents import MSG_ID_HEADER
from fangpin_kit.db import Database, utcnow
from fangpin_kit.logging import get_logger

log = get_logger("fangpin.outbox")


class OutboxRelay:
    """Moves rows from the outbox to JetStream; a crash between publish and mark is harmless
    because the stream drops a republished `Nats-Msg-Id` and consumers keep an inbox."""

    def __init__(
        self,
        database: Database,
        js: nats.js.JetStreamContext,
        *,
        poll_seconds: float = 0.5,
        batch: int = 200,
    ) -> None:
        self.database = database
        self.js = js
        self.poll_seconds = poll_seconds
        self.batch = batch
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished events; returns how many were published."""
        outbox = self.database.tables.outbox
        async with self.database.sessions() as session:
            rows = (
                await session.execute(
                    sa.select(outbox.c.seq, outbox.c.event_id, outbox.c.subject, outbox.c.payload)
                    .where(outbox.c.published_at.is_(None))
                    .order_by(outbox.c.seq)
                    .limit(self.batch)
                )
            ).all()
            if not rows:
                return 0
            acks = await asyncio.gather(
                *(
                    self.js.publish(
                        row.subject,
                        row.payload.encode(),
                        headers={MSG_ID_HEADER: row.event_id},
                    )
                    for row in rows
                ),
                return_exceptions=True,
            )
            sent = [
                row.seq
                for row, ack in zip(rows, acks, strict=True)
                if not isinstance(ack, BaseException)
            ]
            failed = [
                (row.seq, ack)
                for row, ack in zip(rows, acks, strict=True)
                if isinstance(ack, BaseException)
            ]
            if sent:
                await session.execute(
                    sa.update(outbox).where(outbox.c.seq.in_(sent)).values(published_at=utcnow())
                )
            for seq, err in failed:
                await session.execute(
                    sa.update(outbox)
                    .where(outbox.c.seq == seq)
                    .values(attempts=outbox.c.attempts + 1, last_error=repr(err)[:500])
                )
            await session.commit()
            if failed:
                log.warning("outbox publish failed", failed=len(failed), error=repr(failed[0][1]))
                raise ConnectionError(f"{len(failed)} outbox events not published")
            return len(sent)

    async def run(self) -> None:
        signal = self.database.outbox_signal
        backoff = self.poll_seconds
        while not self._stopping.is_set():
            signal.clear()  # before reading, so a commit during the read wakes the next round
            try:
                while await self.publish_pending() >= self.batch:
                    pass
                backoff = self.poll_seconds
            except Exception as err:  # keep relaying; the rows stay for the next round
                log.warning("outbox relay error", error=repr(err))
                backoff = min(backoff * 2, 10.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal.wait(), timeout=backoff)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        self._stopping.set()
        self.database.outbox_signal.set()
        if self._task:
            await self._task
        with contextlib.suppress(Exception):
            await self.publish_pending()
