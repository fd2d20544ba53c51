"""Intake's gRPC surface: streaming import with a per-record report, export, clues."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from fangpin.v1 import intake_pb2, intake_pb2_grpc
from fangpin_intake.bootstrap import SPEC
from fangpin_kit.grpcclient import channel
from fangpin_kit.natsserver import EmbeddedNats
from fangpin_kit.testing import running_service
from intake_factories import START, household


async def test_import_reports_each_reject_and_export_streams_the_registry(
    tmp_path: Path, nats_server: EmbeddedNats, county: str
) -> None:
    good = [household(f"H{county}{n}", county=county) for n in range(3)]
    bad_digit = household(f"H{county}9", county=county)
    bad_digit["members"][0]["id_number"] = "110101199003076631"  # wrong check digit
    lines = [json.dumps(r) for r in good[:2]] + ["{not json", json.dumps(bad_digit)]
    lines.append(json.dumps(good[2]))

    async def requests() -> AsyncIterator[intake_pb2.HouseholdRecord]:
        for n, text in enumerate(lines, start=1):
            yield intake_pb2.HouseholdRecord(line=n, json=text)

    settings = {
        "county": county,
        "nats_url": nats_server.url,
        "db_url": f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}",
    }
    async with running_service(SPEC, start=START, **settings) as app:
        address = f"127.0.0.1:{app.grpc.port}"  # type: ignore[union-attr]
        async with channel(address) as ch:
            stub = intake_pb2_grpc.IntakeServiceStub(ch)
            outcomes = [o async for o in stub.ImportHouseholds(requests())]
            assert [(o.line, o.status) for o in outcomes] == [
                (1, "created"),
                (2, "created"),
                (3, "rejected"),
                (4, "rejected"),
                (5, "created"),
            ]
            assert outcomes[2].error.startswith("invalid JSON")
            assert outcomes[3].error == "members[0].id_number: bad check digit"
            assert outcomes[3].household_id == f"H{county}9"

            exported = [
                json.loads(r.json)["household_id"]
                async for r in stub.ExportHouseholds(intake_pb2.ExportHouseholdsRequest())
            ]
            assert exported == sorted(h["household_id"] for h in good)
            after_first = [
                json.loads(r.json)["household_id"]
                async for r in stub.ExportHouseholds(
                    intake_pb2.ExportHouseholdsRequest(after=exported[0])
                )
            ]
            assert after_first == exported[1:]

            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.GetHousehold(intake_pb2.GetHouseholdRequest(household_id="H404404"))
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
