"""The county's household registry as screening reads it: intake's gRPC export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import grpc

from fangpin.v1 import common_pb2, intake_pb2, intake_pb2_grpc
from fangpin_kit.grpcclient import channel


class RegistryUnavailable(ConnectionError):
    """The registry could not be read (intake down, unreachable, or the stream broke)."""


class HouseholdRegistry(Protocol):
    """Household records (v1 JSON text) in household_id order, resumable after an id."""

    async def count(self) -> int:
        """Households in the registry now (for progress)."""
        ...

    def export(self, after: str) -> AsyncIterator[str]:
        """Records with household_id > `after` ("" = all), in household_id order."""
        ...


class IntakeRegistry:
    """Intake's `ExportHouseholds` stream at `address` (host:port), for one county."""

    def __init__(self, address: str, county: str) -> None:
        self.address = address
        self.county = county

    def _unavailable(self, err: grpc.aio.AioRpcError) -> RegistryUnavailable:
        return RegistryUnavailable(f"intake at {self.address}: {err.code().name}: {err.details()}")

    async def count(self) -> int:
        try:
            async with channel(self.address) as ch:
                stats = await intake_pb2_grpc.IntakeServiceStub(ch).GetStats(
                    common_pb2.StatsRequest(), timeout=30
                )
        except grpc.aio.AioRpcError as err:
            raise self._unavailable(err) from err
        return int(stats.counts.get("households", 0))

    async def export(self, after: str) -> AsyncIterator[str]:
        try:
            async with channel(self.address) as ch:
                stub = intake_pb2_grpc.IntakeServiceStub(ch)
                request = intake_pb2.ExportHouseholdsRequest(village=self.county, after=after)
                async for record in stub.ExportHouseholds(request):
                    yield record.json
        except grpc.aio.AioRpcError as err:
            raise self._unavailable(err) from err
