"""Database plumbing shared by every service: engines, the outbox/inbox tables, the unit of work."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from fangpin_contracts.cloudevents import CloudEvent
from fangpin_kit.correlation import current_correlation_id


class JsonDocument(sa.TypeDecorator[Any]):
    """A JSON document column: JSONB on PostgreSQL, JSON text elsewhere."""

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(sa.JSON())


JsonColumn = JsonDocument


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes: everything stored is UTC, so say so."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite included)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return as_utc(value).astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine; SQLite gets WAL and a busy timeout so readers never block the writer."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


@dataclass(frozen=True)
class ReliabilityTables:
    """The transactional outbox and the inbox of processed event ids, in one service's metadata."""

    outbox: sa.Table
    inbox: sa.Table


def reliability_tables(metadata: sa.MetaData) -> ReliabilityTables:
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(100), nullable=False, unique=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("published_at", UtcDateTime, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Index("ix_outbox_unpublished", "published_at", "seq"),
    )
    inbox = sa.Table(
        "inbox",
        metadata,
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(100), primary_key=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("processed_at", UtcDateTime, nullable=False),
    )
    return ReliabilityTables(outbox=outbox, inbox=inbox)


class DuplicateDelivery(Exception):
    """Another delivery of the same event committed first; this one has no effect."""


class UnitOfWork:
    """One transaction: state changes, outgoing events (outbox) and processed ids (inbox) together.

    Handlers stage events with `emit()`; they reach the bus only if `commit()` succeeds, and the
    outbox relay publishes them afterwards with `Nats-Msg-Id` = event id.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        tables: ReliabilityTables,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._tables = tables
        self._on_commit = on_commit
        self._pending: list[tuple[str, CloudEvent]] = []
        self._processed: list[tuple[str, str, str]] = []
        self.session: AsyncSession

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self._pending = []
        self._processed = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.session.rollback()
        await self.session.close()

    def emit(self, subject: str, event: CloudEvent) -> None:
        """Stage an event for the outbox; the correlation id in scope is stamped on it."""
        if event.correlationid is None:
            event.correlationid = current_correlation_id() or event.id
        self._pending.append((subject, event))

    @property
    def emitted(self) -> list[tuple[str, CloudEvent]]:
        return list(self._pending)

    async def already_processed(self, consumer: str, event_id: str) -> bool:
        inbox = self._tables.inbox
        row = await self.session.execute(
            sa.select(inbox.c.event_id).where(
                inbox.c.consumer == consumer, inbox.c.event_id == event_id
            )
        )
        return row.first() is not None

    def mark_processed(self, consumer: str, event_id: str, subject: str) -> None:
        self._processed.append((consumer, event_id, subject))

    async def commit(self) -> None:
        now = utcnow()
        if self._pending:
            await self.session.execute(
                sa.insert(self._tables.outbox),
                [
                    {
                        "event_id": ev.id,
                        "subject": subject,
                        "payload": ev.model_dump_json(),
                        "created_at": now,
                        "attempts": 0,
                    }
                    for subject, ev in self._pending
                ],
            )
        if self._processed:
            await self.session.execute(
                sa.insert(self._tables.inbox),
                [
                    {"consumer": c, "event_id": e, "subject": s, "processed_at": now}
                    for c, e, s in self._processed
                ],
            )
        try:
            await self.session.commit()
        except IntegrityError as err:
            await self.session.rollback()
            if self._processed and "inbox" in str(err.orig).lower():
                raise DuplicateDelivery(str(err.orig)) from err
            raise
        had_events = bool(self._pending)
        self._pending = []
        self._processed = []
        if had_events and self._on_commit:
            self._on_commit()


@dataclass
class Database:
    """A service's engine, session factory and reliability tables."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    tables: ReliabilityTables
    outbox_signal: asyncio.Event

    @classmethod
    def connect(cls, url: str, metadata: sa.MetaData) -> Database:
        engine = make_engine(url)
        tables = ReliabilityTables(outbox=metadata.tables["outbox"], inbox=metadata.tables["inbox"])
        return cls(
            engine=engine,
            sessions=async_sessionmaker(engine, expire_on_commit=False),
            tables=tables,
            outbox_signal=asyncio.Event(),
        )

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.tables, on_commit=self.outbox_signal.set)

    async def dispose(self) -> None:
        await self.engine.dispose()
