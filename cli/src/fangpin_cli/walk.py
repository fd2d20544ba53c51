"""`fangpin demo walk`: one demo household through the identification procedure to its plan,
against the running suite of `make run`, each step printed with the command doing it by hand.

The public notice (公示) has to run its days before the village signs the appraisal. The walk
stops there (exit 3) and prints how to let the days pass in a demo: restart `make run` with the
suite's clock moved ahead (`FANGPIN_CLOCK_OFFSET_SECONDS`, drills and demos only) and run the
walk again with the same offset; it resumes the same case (`var/demo-walk-<county>.json`).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final

import grpc
import typer

from fangpin.v1 import approval_pb2, approval_pb2_grpc, assistance_pb2, assistance_pb2_grpc
from fangpin_cli.case import PROCEDURES
from fangpin_cli.endpoints import address, endpoints_file
from fangpin_cli.today import today
from fangpin_contracts.vocabulary import label
from fangpin_kit.grpcclient import channel
from fangpin_kit.settings import load_settings

app = typer.Typer(no_args_is_help=True, help="The demo county of `make run`.")

PAUSED: Final = 3
"""Exit status of a walk waiting for the public notice's days (nothing is wrong)."""

STEPS: Final = PROCEDURES["identification"]
"""The identification procedure's steps in order (`fangpin case --help`)."""
DAY_SECONDS: Final = 86400

_SIGN_FROM = re.compile(r"sign from (\d{4}-\d{2}-\d{2})")


class WalkStopped(Exception):
    """The walk cannot go on: the message says why (exit 1)."""


@dataclass(frozen=True)
class Paused:
    """The public notice still runs: the village signs the appraisal from `sign_from`."""

    published_on: str
    last_day: str
    sign_from: date


@dataclass(frozen=True)
class Signers:
    """The demo's cadres for one household's village: who signs each step."""

    village: str

    @property
    def town(self) -> str:
        return self.village[:9]

    @property
    def county(self) -> str:
        return self.village[:6]

    def village_cadre(self) -> approval_pb2.Actor:
        return _actor("demo-village-cadre", "演示村干部", "village_cadre", "village", self.village)

    def village_secretary(self) -> approval_pb2.Actor:
        return _actor(
            "demo-village-secretary", "演示村书记", "village_secretary", "village", self.village
        )

    def town_reviewer(self) -> approval_pb2.Actor:
        return _actor("demo-town-reviewer", "演示乡镇审核人", "town_reviewer", "town", self.town)

    def county_bureau(self) -> approval_pb2.Actor:
        return _actor(
            "demo-county-bureau", "演示县乡村振兴局", "county_bureau", "county", self.county
        )


def _actor(key: str, name: str, role: str, level: str, region: str) -> approval_pb2.Actor:
    return approval_pb2.Actor(
        id=f"{key}-{region}", name=name, role=role, level=level, region=region
    )


def _by_hand(command: str, case_id: str, actor: approval_pb2.Actor, *extra: str) -> str:
    """The `fangpin` command doing the same by hand."""
    words = [
        "fangpin case",
        command,
        case_id,
        *extra,
        f"--actor-id {actor.id} --actor-name {actor.name} --role {actor.role}",
        f"--level {actor.level} --region {actor.region}",
    ]
    return " ".join(words)


def _co_signer(actor: approval_pb2.Actor) -> str:
    return f"--co-signer {actor.id}/{actor.name}/{actor.level}/{actor.region}/{actor.role}"


def _marker(county: str) -> Path:
    return endpoints_file().parent / f"demo-walk-{county}.json"


def _county() -> str:
    path = endpoints_file()
    if path.exists():
        return str(json.loads(path.read_text()).get("county") or "652827")
    return "652827"


class Walk:
    """One walk: the case, its signers, and the gRPC stubs of approval and assistance."""

    def __init__(
        self,
        approval: approval_pb2_grpc.ApprovalServiceStub,
        assistance: assistance_pb2_grpc.AssistanceServiceStub,
    ) -> None:
        self.approval = approval
        self.assistance = assistance

    async def pick(self, county: str, case_id: str | None) -> approval_pb2.Case:
        """The case to walk: the one asked for, the one a previous walk left unfinished, else
        the oldest open identification case of the county at application without exclusions."""
        if case_id:
            return await self.approval.GetCase(approval_pb2.GetCaseRequest(case_id=case_id))
        remembered = _marker(county)
        if remembered.exists():
            unfinished = await self._case(str(json.loads(remembered.read_text())["case_id"]))
            if unfinished is not None and unfinished.status in ("open", "approved"):
                return unfinished
            remembered.unlink()  # decided otherwise (rejected, withdrawn) or gone: a new one
        request = approval_pb2.ListCasesRequest(
            region=county,
            step="application",
            status="open",
            kind="identification",
            oldest_first=True,
            limit=200,
        )
        reply = await self.approval.ListCases(request)
        for case in reply.cases:
            if not case.excluded_by and not case.green_channel and case.category:
                return case
        raise WalkStopped(
            f"no open identification case at application in county {county} without "
            "exclusions: start the suite with its demo county (`make run`), let screening open "
            "cases (`fangpin case list --step application`), or name one with --case"
        )

    async def _case(self, case_id: str) -> approval_pb2.Case | None:
        try:
            return await self.approval.GetCase(approval_pb2.GetCaseRequest(case_id=case_id))
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                raise
            return None

    async def step(self, case: approval_pb2.Case) -> approval_pb2.Case | Paused:
        """Do the case's current step; the case after it, or Paused at the public notice."""
        signers = Signers(case.region.village)
        number = STEPS.index(case.step) + 1 if case.step in STEPS else 0
        head = f"step {number}/{len(STEPS)} {case.step} {label('step', case.step)}"
        if case.step == "application":
            actor = signers.village_cadre()
            typer.echo(f"{head}: the village signs on the household's behalf ({actor.name})")
            return await self._sign(case, actor, "户主申请, 已签授权承诺书(演示)")
        if case.step == "verification":
            actor, other = signers.village_cadre(), signers.village_secretary()
            typer.echo(f"{head}: two village cadres visit and sign together")
            return await self._sign(case, actor, "入户核实(演示)", co_signers=[other])
        if case.step == "village_appraisal":
            return await self._appraisal(case, signers, head)
        if case.step == "town_review":
            typer.echo(f"{head}: the town reviews and signs")
            return await self._sign(case, signers.town_reviewer(), "乡镇审核(演示)")
        if case.step == "county_approval":
            typer.echo(f"{head}: the county approves; the household is registered")
            return await self._sign(case, signers.county_bureau(), "县级审核批准(演示)")
        raise WalkStopped(f"case {case.case_id} is at {case.step!r}: not a step this walk signs")

    async def _appraisal(
        self, case: approval_pb2.Case, signers: Signers, head: str
    ) -> approval_pb2.Case | Paused:
        actor = signers.village_cadre()
        if not case.notice_published_on:
            typer.echo(
                f"{head}: the democratic appraisal (民主评议) is held; the public notice starts"
            )
            typer.echo(f"  by hand: {_by_hand('publish-notice', case.case_id, actor)}")
            case = await self.approval.PublishNotice(
                approval_pb2.CaseActionRequest(
                    case_id=case.case_id, actor=actor, comment="民主评议通过, 村内公示(演示)"
                )
            )
            last_day = case.due.get("notice_last_day", "")
            typer.echo(f"  notice published on {case.notice_published_on}, runs until {last_day}")
        typer.echo(f"{head}: the village signs once the notice has run")
        try:
            return await self._sign(case, actor, "公示无异议(演示)")
        except grpc.aio.AioRpcError as err:
            found = _SIGN_FROM.search(err.details() or "")
            if err.code() != grpc.StatusCode.FAILED_PRECONDITION or found is None:
                raise
            return Paused(
                published_on=case.notice_published_on,
                last_day=case.due.get("notice_last_day", ""),
                sign_from=date.fromisoformat(found.group(1)),
            )

    async def _sign(
        self,
        case: approval_pb2.Case,
        actor: approval_pb2.Actor,
        comment: str,
        co_signers: list[approval_pb2.Actor] | None = None,
    ) -> approval_pb2.Case:
        extra = [f"--step {case.step}", *(_co_signer(c) for c in co_signers or [])]
        typer.echo(f"  by hand: {_by_hand('sign', case.case_id, actor, *extra)}")
        signed = await self.approval.SignStep(
            approval_pb2.SignStepRequest(
                case_id=case.case_id,
                step=case.step,
                actor=actor,
                comment=comment,
                co_signers=co_signers or [],
            )
        )
        moved = f"now at {signed.step}" if signed.status == "open" else signed.status
        typer.echo(f"  signed: case {signed.case_id} {moved}")
        return signed

    async def plan(self, household_id: str, wait: float) -> assistance_pb2.Plan:
        """The household's plan (一户一策), once assistance has made it from the decision."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        request = assistance_pb2.GetPlanRequest(household_id=household_id)
        while True:
            try:
                return await self.assistance.GetPlan(request)
            except grpc.aio.AioRpcError as err:
                if err.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                if loop.time() > deadline:
                    raise WalkStopped(
                        f"no plan for {household_id} after {wait:.0f} s: see "
                        "`fangpin ops dlq` and var/logs/assistance.log"
                    ) from None
                await asyncio.sleep(0.5)


async def _walk(county: str, case_id: str | None, wait: float) -> Paused | None:
    async with channel(address("approval")) as ach, channel(address("assistance")) as sch:
        walk = Walk(
            approval_pb2_grpc.ApprovalServiceStub(ach),
            assistance_pb2_grpc.AssistanceServiceStub(sch),
        )
        case = await walk.pick(county, case_id)
        _marker(county).write_text(
            json.dumps({"case_id": case.case_id, "household_id": case.household_id}, indent=2)
        )
        typer.echo(
            f"demo walk: case {case.case_id}, household {case.household_id} "
            f"(village {case.region.village}), {case.kind} {label('case_kind', case.kind)}; "
            "the steps: `fangpin case --help`"
        )
        while case.status == "open":
            outcome = await walk.step(case)
            if isinstance(outcome, Paused):
                return outcome
            case = outcome
        if case.status != "approved":
            raise WalkStopped(f"case {case.case_id} is {case.status}: nothing more to walk")
        typer.echo(
            "then the plan 一户一策: assistance drafts the household's plan from the decision"
        )
        plan = await walk.plan(case.household_id, wait)
        _print_plan(plan)
        _marker(county).unlink(missing_ok=True)  # walked to the end: the next walk starts anew
        return None


def _print_plan(plan: assistance_pb2.Plan) -> None:
    typer.echo(
        f"  plan {plan.plan_id} ({plan.status}, due {plan.due}), contact cadre(s) "
        f"{', '.join(plan.contact_cadres) or 'none yet'}:"
    )
    for measure in plan.measures:
        name = measure.name_zh or f"{measure.type}.{measure.sub_measure}"
        typer.echo(
            f"    {name} ({measure.type}.{measure.sub_measure}) -> {measure.dept}: {measure.status}"
        )
    typer.echo(f"  by hand: fangpin plan show {plan.household_id}")
    if plan.status == "proposed":
        typer.echo(
            f"  next: fangpin plan confirm {plan.household_id} --by <cadre> (measures go out)"
        )


def pause_advice(paused: Paused) -> str:
    """How to let the notice's days pass in a demo: the clock offset to restart with."""
    offset = load_settings("cli").clock_offset_seconds
    days = (paused.sign_from - today()).days
    ahead = offset + max(days, 0) * DAY_SECONDS
    lines = [
        f"paused: the public notice (公示) published on {paused.published_on} runs until "
        f"{paused.last_day}; the village signs the appraisal from {paused.sign_from}.",
    ]
    if days <= 0:
        lines.append(
            f"This terminal's date is already {today()}, but the services' is earlier: start "
            "`make run` with the same FANGPIN_CLOCK_OFFSET_SECONDS as this terminal "
            f"({offset:.0f}), then run `fangpin demo walk` again."
        )
        return "\n".join(lines)
    lines += [
        f"In a demo, let the {days} day(s) pass by moving the suite's clock ahead (drills and "
        "demos only, never production):",
        "  1. stop `make run` (Ctrl-C) and start it again with the clock moved:",
        f"       FANGPIN_CLOCK_OFFSET_SECONDS={ahead:.0f} make run",
        "  2. here, with the same offset, continue the walk (it resumes this case):",
        f"       FANGPIN_CLOCK_OFFSET_SECONDS={ahead:.0f} fangpin demo walk",
        f"Or run `fangpin demo walk` again from {paused.sign_from}.",
    ]
    return "\n".join(lines)


@app.command("walk")
def walk(
    case_id: str | None = typer.Option(
        None, "--case", help="the case to walk (default: the last walked, else a new one)"
    ),
    county: str | None = typer.Option(
        None, "--county", help="county code (default: make run's, from var/endpoints.json)"
    ),
    wait: float = typer.Option(60.0, help="seconds to wait for assistance to make the plan"),
) -> None:
    """Take one demo household through application, verification, village appraisal with
    its public notice (公示), town review and county approval to its plan (一户一策), against
    the running `make run`, printing each step and the `fangpin case` command doing it.

    The notice runs at least 5 days: the walk stops there (exit 3) and prints the clock
    offset to restart `make run` with; run it again with that offset and it resumes the same
    case. Once a household has its plan, the next walk takes another one. Exit 0 when the
    plan is made, 1 when the walk cannot go on, 2 when a service refuses.
    """
    where = county or _county()
    try:
        paused = asyncio.run(_walk(where, case_id, wait))
    except WalkStopped as stop:
        typer.echo(f"fangpin demo walk: {stop}", err=True)
        raise typer.Exit(1) from None
    except grpc.aio.AioRpcError as err:
        typer.echo(f"fangpin demo walk: {err.code().name}: {err.details()}", err=True)
        raise typer.Exit(2) from None
    if paused is not None:
        typer.echo(pause_advice(paused))
        raise typer.Exit(PAUSED)
    typer.echo(
        "demo walk: done (the household is monitored and has its plan); "
        "run `fangpin demo walk` again to walk another household"
    )
