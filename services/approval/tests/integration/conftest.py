"""Fixtures of approval's store, gRPC and bus tests (helpers live in approval_integration)."""

from __future__ import annotations

import sys
from pathlib import Path

# Test modules import `approval_integration` by its (repository-unique) name; the rootdir's
# importlib mode does not put this folder on sys.path by itself.
sys.path.insert(0, str(Path(__file__).parent))

from collections.abc import AsyncIterator

import pytest
from approval_integration import Clock, make_context

from fangpin.v1 import approval_pb2, approval_pb2_grpc
from fangpin_approval.adapters.orm import MIGRATIONS, metadata
from fangpin_approval.entrypoints.grpc import ApprovalServicer
from fangpin_approval.service_layer.handlers import ApprovalContext
from fangpin_kit import migrations
from fangpin_kit.db import Database
from fangpin_kit.grpcclient import channel
from fangpin_kit.grpcserver import GrpcServer, ServicerBinding


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    migrations.upgrade(MIGRATIONS, db_url)
    database = Database.connect(db_url, metadata)
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ctx(clock: Clock) -> ApprovalContext:
    return make_context(clock)


@pytest.fixture
async def grpc_target(db: Database, ctx: ApprovalContext) -> AsyncIterator[str]:
    """Approval's servicer on a free port over the test store (no bus: events stay queued)."""
    server = GrpcServer(
        "127.0.0.1",
        0,
        [
            ServicerBinding(
                ApprovalServicer(db, ctx),
                approval_pb2_grpc.add_ApprovalServiceServicer_to_server,
                approval_pb2.DESCRIPTOR.services_by_name["ApprovalService"].full_name,
            )
        ],
    )
    await server.start()
    yield f"127.0.0.1:{server.port}"
    await server.stop(0)


@pytest.fixture
async def stub(grpc_target: str) -> AsyncIterator[approval_pb2_grpc.ApprovalServiceStub]:
    async with channel(grpc_target) as ch:
        yield approval_pb2_grpc.ApprovalServiceStub(ch)
