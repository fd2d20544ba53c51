"""A per-service SQLModel base: each service's tables live in its own metadata, outbox and inbox
included, so one process can load several services (tests) without mixing their schemas."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from fangpin_kit.db import reliability_tables


def service_base() -> Any:
    """A fresh declarative base with its own metadata holding the outbox and inbox tables."""

    class ServiceModel(SQLModel, registry=registry()):
        pass

    reliability_tables(ServiceModel.metadata)
    return ServiceModel


def metadata_of(base: Any) -> sa.MetaData:
    return base.metadata  # type: ignore[no-any-return]
