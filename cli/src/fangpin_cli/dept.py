"""`fangpin dept simulate`: a lead department's system answering dispatched measures."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

import nats
import typer
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from fangpin_assistance.domain.codes import Department, TermKind
from fangpin_assistance.domain.events import MeasureDispatched as DispatchFact
from fangpin_assistance.domain.measure import DepartmentReply
from fangpin_assistance.domain.simulator import Behaviour, SimulatorPolicy, decide, simulate
from fangpin_cli.bus import nats_url
from fangpin_cli.endpoints import emit_json
from fangpin_contracts.cloudevents import CloudEvent, headers_for, new_event
from fangpin_contracts.events import MeasureDispatched, MeasureReply
from fangpin_contracts.subjects import DEPARTMENTS, stream_name, subject
from fangpin_kit.bus import declare_streams
from fangpin_kit.settings import load_settings

app = typer.Typer(no_args_is_help=True, help="Department systems (simulated, for demos and tests).")

KEEPALIVE_SECONDS = 10.0
"""While a reply waits for its time, the dispatch is marked in progress this often."""


@dataclass
class Handled:
    """One dispatch the simulated department received and what it answered."""

    dispatch_id: str
    measure_id: str
    attempt: int
    behaviour: str
    replies: list[str] = field(default_factory=list)


@dataclass
class SimulatorRun:
    """A running simulator's record of the dispatches it handled, in order of completion."""

    handled: list[Handled] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)


def dispatch_fact(event: CloudEvent, payload: MeasureDispatched) -> DispatchFact:
    """The dispatch as the domain simulator reads it."""
    return DispatchFact(
        household_id=payload.household_id,
        occurred_at=event.time,
        dispatch_id=payload.dispatch_id,
        plan_id=payload.plan_id,
        measure_id=payload.measure_id,
        measure_key=f"{payload.type}.{payload.sub_measure or ''}",
        department=Department(payload.dept),
        beneficiary=payload.beneficiary,
        term_kind=TermKind(payload.term_kind or TermKind.NONE),
        attempt=payload.attempt,
        reply_due_at=payload.reply_due,
    )


def reply_event(county: str, reply: DepartmentReply, payload: MeasureDispatched) -> CloudEvent:
    """The reply as the department system publishes it; its id is the reply id."""
    data = MeasureReply(
        measure_id=reply.measure_id,
        dispatch_id=payload.dispatch_id,
        dept=reply.department,
        reason=reply.reason,
        started_on=reply.started_on,
        term_end=reply.term_end,
    )
    return new_event(
        domain="measure",
        event=reply.kind.value,
        county=county,
        source=f"dept/{reply.department}/simulator",
        data=data,
        subject=payload.household_id,
        event_id=reply.reply_id,
        time=reply.sent_at,
    )


async def run_simulator(
    url: str,
    county: str,
    policy: SimulatorPolicy,
    *,
    count: int | None = None,
    durable: str | None = None,
    run: SimulatorRun | None = None,
    on_handled: Callable[[Handled], None] | None = None,
    stop: asyncio.Event | None = None,
) -> SimulatorRun:
    """Answer `measure.dispatched.<dept>` until `count` dispatches were handled or `stop` is set.

    Durable pull consumer with explicit ack: a dispatch is acknowledged once its replies are
    published, so a simulator stopped mid-way answers it after a restart (reply ids derive
    from the dispatch id, so nothing is answered twice in effect).
    """
    run = run or SimulatorRun()
    stop = stop or asyncio.Event()
    dept = policy.department.value
    nc = await nats.connect(url, connect_timeout=5)
    js = nc.jetstream()
    try:  # the suite declares the stream; a simulator started first creates it, never alters it
        await js.stream_info(stream_name(county, "measure"))
    except NotFoundError:
        settings = load_settings("dept-simulator", county=county, nats_url=url)
        await declare_streams(js, settings, domains=("measure",))
    sub = await js.pull_subscribe(
        subject(county, "measure", "dispatched", dept),
        durable=durable or f"dept-sim-{dept}",
        stream=stream_name(county, "measure"),
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=KEEPALIVE_SECONDS * 3),
    )
    run.ready.set()
    pending: set[asyncio.Task[None]] = set()

    async def answer(msg: Msg) -> None:
        try:
            event = CloudEvent.model_validate_json(msg.data)
            payload = MeasureDispatched.model_validate(event.data)
            fact = dispatch_fact(event, payload)
        except (ValidationError, ValueError) as err:
            await msg.term()  # not a dispatch this department can read: never redeliver
            typer.echo(f"dept {dept}: unreadable dispatch dropped: {err}", err=True)
            return
        handled = Handled(
            payload.dispatch_id, payload.measure_id, payload.attempt, decide(fact, policy).value
        )
        for reply in simulate(fact, policy):
            wait = (reply.sent_at - fact.occurred_at).total_seconds()
            deadline = asyncio.get_running_loop().time() + wait
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                await asyncio.sleep(min(left, KEEPALIVE_SECONDS))
                await msg.in_progress()
            ev = reply_event(county, reply, payload)
            await js.publish(
                subject(county, "measure", reply.kind.value),
                ev.model_dump_json().encode(),
                headers=headers_for(ev),
            )
            handled.replies.append(reply.kind.value)
        await msg.ack()
        run.handled.append(handled)
        if on_handled:
            on_handled(handled)
        if count is not None and len(run.handled) >= count:
            stop.set()

    try:
        while not stop.is_set():
            try:
                messages = await sub.fetch(batch=10, timeout=0.5)
            except TimeoutError:
                continue
            for msg in messages:
                task = asyncio.create_task(answer(msg))
                pending.add(task)
                task.add_done_callback(pending.discard)
        for task in list(pending):
            task.cancel()
    finally:
        with contextlib.suppress(Exception):
            await nc.close()
    return run


def _behaviour(value: str, option: str) -> Behaviour:
    try:
        return Behaviour(value)
    except ValueError:
        allowed = ", ".join(b.value for b in Behaviour)
        raise typer.BadParameter(f"{value!r}: one of {allowed}", param_hint=option) from None


@app.command("simulate")
def simulate_command(
    dept: str = typer.Option(..., "--dept", help="department code, e.g. hrss"),
    seed: int = typer.Option(0, "--seed", help="seed of the answering draw"),
    nats_: str | None = typer.Option(None, "--nats", help="NATS URL (default: the suite's)"),
    county: str = typer.Option(
        os.environ.get("FANGPIN_COUNTY", "652827"), "--county", help="6-digit county code"
    ),
    always: str = typer.Option("", "--always", help="complete | accept | reject | silent"),
    force: list[str] = typer.Option([], "--force", help="KEY=BEHAVIOUR (measure key or type)"),
    reply_after: float | None = typer.Option(None, "--reply-after", help="seconds to answer"),
    complete_after: float | None = typer.Option(
        None, "--complete-after", help="seconds from acceptance to completion"
    ),
    count: int | None = typer.Option(None, "--count", help="stop after N dispatches"),
    once: bool = typer.Option(False, "--once", help="stop after one dispatch"),
) -> None:
    """Answer the department's dispatched measures like its own system would, until Ctrl-C."""
    if dept not in DEPARTMENTS:
        raise typer.BadParameter(f"{dept!r}: one of {', '.join(DEPARTMENTS)}", param_hint="--dept")
    if not (len(county) == 6 and county.isdigit()):
        raise typer.BadParameter(f"{county!r}: a 6-digit county code", param_hint="--county")
    forced = {}
    for item in force:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r}: expected KEY=BEHAVIOUR", param_hint="--force")
        forced[key.strip()] = _behaviour(value.strip(), "--force")
    policy_args: dict[str, object] = {"forced": MappingProxyType(forced)}
    if always:
        policy_args["weights"] = MappingProxyType({_behaviour(always, "--always"): 1.0})
    if reply_after is not None:
        policy_args["reply_after"] = timedelta(seconds=reply_after)
    if complete_after is not None:
        policy_args["complete_after"] = timedelta(seconds=complete_after)
    policy = SimulatorPolicy(department=Department(dept), seed=seed, **policy_args)  # type: ignore[arg-type]
    limit = 1 if once else count

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        typer.echo(f"dept {dept}: answering dispatches of county {county}", err=True)
        await run_simulator(
            nats_url(nats_),
            county,
            policy,
            count=limit,
            stop=stop,
            on_handled=lambda h: emit_json(h.__dict__),
        )

    asyncio.run(main())
