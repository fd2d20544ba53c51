"""Pipeline benchmark: warnings per second from publish to case opened, with p50/p99 latency,
against the suite running as separate processes; the floor is bare nats-py JetStream
publish + consume + ack on the same server, measured in the same run.

    .venv/bin/python bench/pipeline.py [--n 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nats
from nats.js.api import StreamConfig

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fangpin_cli.bus import publish_one  # noqa: E402
from fangpin_cli.demo import DemoCounty, generate_households  # noqa: E402
from fangpin_cli.today import today  # noqa: E402
from fangpin_contracts.cloudevents import CloudEvent  # noqa: E402
from fangpin_contracts.subjects import subject  # noqa: E402
from tests.e2e.harness import import_households, running_suite  # noqa: E402

IDLE = 20


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bare_floor(url: str, n: int, payload: bytes) -> float:
    """msgs/s of publish (awaiting each PubAck) + pull consume + ack of n messages."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="BENCH_FLOOR", subjects=["bench.floor"]))
    sub = await js.pull_subscribe("bench.floor", durable="floor")
    started = time.perf_counter()

    async def consume() -> None:
        got = 0
        while got < n:
            for msg in await sub.fetch(min(100, n - got), timeout=10):
                await msg.ack()
                got += 1

    consumer = asyncio.create_task(consume())
    for i in range(n):
        await js.publish("bench.floor", payload, headers={"Nats-Msg-Id": f"floor-{i}"})
    await consumer
    elapsed = time.perf_counter() - started
    await js.delete_stream("BENCH_FLOOR")
    await nc.close()
    return n / elapsed


async def main(n: int) -> None:
    demo = DemoCounty(county="652827", households=n + IDLE, seed=11)
    households = generate_households(demo, today())
    for record in households:  # every household low-income: each warning opens a case
        size = len(record["members"])
        record["income"] = {"wage": 1000.0 * size, "business": 1000.0 * size}
        record["flags"] = {}
        for member in record["members"]:
            member["employment"] = "farming" if member["labor_capacity"] != "none" else "none"
            member.pop("village_leader", None)
    with tempfile.TemporaryDirectory() as tmp:
        async with running_suite(Path(tmp), services=("intake", "screening", "approval")) as suite:
            assert suite.nats is not None
            await import_households(suite, households)
            idle_households = households[n:]
            households = households[:n]
            nc = await nats.connect(suite.nats.url)
            js = nc.jetstream()
            opened: dict[str, float] = {}
            done = asyncio.Event()

            async def on_case(msg: nats.aio.msg.Msg) -> None:
                event = CloudEvent.model_validate_json(msg.data)
                opened.setdefault(event.data["household_id"], time.perf_counter())
                if len(opened) >= n and not done.is_set():
                    done.set()

            await js.subscribe(
                subject(suite.county, "case", "opened"), cb=on_case, ordered_consumer=True
            )
            warnings = [
                {
                    "event_id": f"bench-{i}",
                    "data": {
                        "dept": "civil_affairs",
                        "kind": "temporary_relief",
                        "household_id": h["household_id"],
                        "observed_at": today().isoformat(),
                    },
                }
                for i, h in enumerate(households)
            ]
            sent: dict[str, float] = {}
            started = time.perf_counter()
            for w in warnings:  # one at a time, so each has its own publish timestamp
                sent[w["data"]["household_id"]] = time.perf_counter()
                await publish_one(js, suite.county, w, "bench")
            await asyncio.wait_for(done.wait(), timeout=600)
            elapsed = max(opened.values()) - started
            latencies = [(opened[h] - sent[h]) * 1000 for h in opened]
            # an idle pipeline: one warning at a time, each waiting for its case
            idle: list[float] = []
            for i, h in enumerate(idle_households):
                key = h["household_id"]
                w = {
                    "event_id": f"bench-idle-{i}",
                    "data": {
                        "dept": "civil_affairs",
                        "kind": "temporary_relief",
                        "household_id": key,
                        "observed_at": today().isoformat(),
                    },
                }
                t0 = time.perf_counter()
                await publish_one(js, suite.county, w, "bench")
                while key not in opened:
                    await asyncio.sleep(0.002)
                idle.append((opened[key] - t0) * 1000)
            floor = await bare_floor(suite.nats.url, n, b"x" * 1500)
            await nc.close()
    rate = n / elapsed
    print(f"pipeline: {n} warnings -> cases opened in {elapsed:.2f}s = {rate:.1f} warnings/s")
    print(
        f"latency publish->case.opened under a burst of {n}: "
        f"p50 {statistics.median(latencies):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms"
    )
    print(
        f"idle latency (one warning at a time, {len(idle)}): p50 {statistics.median(idle):.0f} ms, "
        f"p99 {percentile(idle, 0.99):.0f} ms"
    )
    print(f"floor (bare nats-py JetStream publish+consume+ack): {floor:.0f} msgs/s")
    print(f"ratio floor/pipeline: {floor / rate:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    asyncio.run(main(parser.parse_args().n))
