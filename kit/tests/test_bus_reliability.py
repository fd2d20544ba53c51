"""The bus kit against a real nats-server: outbox relay, inbox dedupe, retry and dead-lettering."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from fangpin_contracts.cloudevents import CloudEvent, new_event
from fangpin_contracts.events import DeadLetter
from fangpin_contracts.subjects import dlq_subject, subject
from fangpin_kit.bus import EventBus, PermanentError
from fangpin_kit.db import Database, UnitOfWork, reliability_tables
from fangpin_kit.natsserver import EmbeddedNats
from fangpin_kit.outbox import OutboxRelay
from fangpin_kit.settings import load_settings
from fangpin_kit.testing import wait_until

metadata = sa.MetaData()
reliability_tables(metadata)
effects = sa.Table(
    "effects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(100), nullable=False),
)


async def make_bus(url: str, nats_url: str, county: str, **overrides: object) -> EventBus:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    settings = load_settings(
        "testsvc",
        county=county,
        nats_url=nats_url,
        db_url=url,
        retry_backoff_seconds=0.05,
        **overrides,
    )
    return EventBus(settings, Database.connect(url, metadata))


def event(county: str, n: int, **data: object) -> CloudEvent:
    return new_event(
        domain="clue",
        event="accepted",
        county=county,
        source="test",
        data={"n": n, **data},
        event_id=f"ev-{n}",
    )


async def count_effects(db: Database) -> int:
    async with db.sessions() as s:
        return int((await s.execute(sa.select(sa.func.count()).select_from(effects))).scalar_one())


async def record_effect(ev: CloudEvent, uow: UnitOfWork) -> None:
    await uow.session.execute(sa.insert(effects).values(event_id=ev.id))


async def test_redelivered_event_has_one_effect(
    db_url: str, nats_server: EmbeddedNats, county: str
) -> None:
    bus = await make_bus(db_url, nats_server.url, county)
    bus.subscribe("effects", subject(county, "clue", "accepted"), record_effect)
    await bus.start()
    try:
        ev = event(county, 1)
        await bus.publish(subject(county, "clue", "accepted"), ev)
        await wait_until(lambda: count_effects(bus.database))
        # the same event again, past JetStream's dedupe (a new Nats-Msg-Id): the inbox stops it
        raw = ev.model_dump_json().encode()
        await bus.js.publish(subject(county, "clue", "accepted"), raw, headers={"Nats-Msg-Id": "x"})
        await asyncio.sleep(0.5)
        assert await count_effects(bus.database) == 1
    finally:
        await bus.stop()
        await bus.database.dispose()


async def test_failing_message_is_dead_lettered_and_the_rest_keep_flowing(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    bus = await make_bus(
        f"sqlite+aiosqlite:///{tmp_path / 's.db'}", nats_server.url, county, max_deliver=3
    )
    attempts: dict[str, int] = {}

    async def handler(ev: CloudEvent, uow: UnitOfWork) -> None:
        attempts[ev.id] = attempts.get(ev.id, 0) + 1
        if ev.data.get("poison"):
            raise RuntimeError("department code unknown to this county")
        await record_effect(ev, uow)

    bus.subscribe("effects", subject(county, "clue", "accepted"), handler)
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await bus.start()
    dlq = await js.subscribe(dlq_subject(county, "testsvc"), durable="t")
    try:
        await bus.publish(subject(county, "clue", "accepted"), event(county, 1, poison=True))
        for n in range(2, 12):
            await bus.publish(subject(county, "clue", "accepted"), event(county, n))
        msg = await dlq.next_msg(timeout=15)
        letter = DeadLetter.model_validate(CloudEvent.model_validate_json(msg.data).data)
        assert letter.reason == "RuntimeError: department code unknown to this county"
        assert letter.deliveries == 3
        assert letter.original_subject == subject(county, "clue", "accepted")
        assert CloudEvent.model_validate_json(letter.original_data).id == "ev-1"
        assert attempts["ev-1"] == 3
        await wait_until(lambda: _equals(count_effects(bus.database), 10))
    finally:
        await bus.stop()
        await bus.database.dispose()
        await nc.close()


async def test_bad_input_goes_to_dead_letter_without_retrying(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    bus = await make_bus(f"sqlite+aiosqlite:///{tmp_path / 's.db'}", nats_server.url, county)
    calls = 0

    async def handler(ev: CloudEvent, uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1
        raise PermanentError("household_id: H1 is not in the county registry")

    bus.subscribe("effects", subject(county, "clue", "accepted"), handler)
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await bus.start()
    dlq = await js.subscribe(dlq_subject(county, "testsvc"), durable="t")
    try:
        await bus.publish(subject(county, "clue", "accepted"), event(county, 1))
        await js.publish(subject(county, "clue", "accepted"), b"not json", headers={})
        letters = [
            DeadLetter.model_validate(
                CloudEvent.model_validate_json((await dlq.next_msg(timeout=10)).data).data
            )
            for _ in range(2)
        ]
        reasons = sorted(letter.reason for letter in letters)
        assert reasons[0] == "household_id: H1 is not in the county registry"
        assert reasons[1].startswith("invalid CloudEvents envelope")
        assert calls == 1
    finally:
        await bus.stop()
        await bus.database.dispose()
        await nc.close()


async def test_outbox_events_reach_the_bus_once_even_when_relayed_twice(
    db_url: str, nats_server: EmbeddedNats, county: str
) -> None:
    bus = await make_bus(db_url, nats_server.url, county)
    await bus.connect()
    try:
        async with bus.database.uow() as uow:
            for n in range(5):
                uow.emit(subject(county, "clue", "accepted"), event(county, n))
            await uow.commit()
        relay = OutboxRelay(bus.database, bus.js)
        assert await relay.publish_pending() == 5
        # a relay that crashed before marking rows sent publishes them again: the stream dedupes
        async with bus.database.sessions() as s:
            await s.execute(sa.update(bus.database.tables.outbox).values(published_at=None))
            await s.commit()
        assert await relay.publish_pending() == 5
        info = await bus.js.stream_info(f"FP_{county}_CLUE")
        assert info.state.messages == 5
        assert await relay.publish_pending() == 0
    finally:
        await bus.stop()
        await bus.database.dispose()


async def test_nothing_is_emitted_when_the_transaction_rolls_back(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    bus = await make_bus(f"sqlite+aiosqlite:///{tmp_path / 's.db'}", nats_server.url, county)
    with pytest.raises(RuntimeError):
        async with bus.database.uow() as uow:
            uow.emit(subject(county, "clue", "accepted"), event(county, 1))
            await record_effect(event(county, 1), uow)
            raise RuntimeError("handler failed before commit")
    async with bus.database.sessions() as s:
        rows = (await s.execute(sa.select(bus.database.tables.outbox))).all()
    assert rows == []
    assert await count_effects(bus.database) == 0
    await bus.database.dispose()


async def _equals(value: object, expected: int) -> bool:
    return await value == expected  # type: ignore[misc]
