"""The correlation id that follows one household's story across events, services and gRPC calls."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

GRPC_METADATA_KEY = "x-correlation-id"


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def current_correlation_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("correlation_id")
    return str(value) if value else None


@contextmanager
def correlation_scope(correlation_id: str | None, **fields: object) -> Iterator[str]:
    """Bind a correlation id (new when missing) and extra log fields for the block."""
    cid = correlation_id or new_correlation_id()
    tokens = structlog.contextvars.bind_contextvars(correlation_id=cid, **fields)
    try:
        yield cid
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
