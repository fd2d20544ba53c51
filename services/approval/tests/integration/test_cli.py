"""`fangpin case|register ...` against approval's gRPC server: cadres' commands end to end."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from approval_integration import VILLAGE, Clock, committed, decision
from typer.testing import CliRunner, Result

from fangpin_approval.service_layer import handlers
from fangpin_approval.service_layer.handlers import ApprovalContext
from fangpin_cli.main import app
from fangpin_kit.db import Database

VILLAGE_CADRE = {
    "id": "V-01",
    "name": "李支书",
    "role": "village_secretary",
    "level": "village",
    "region": VILLAGE,
}


async def fangpin(target: str, *args: str, actor: dict[str, Any] | None = None) -> Result:
    env = {"FANGPIN_APPROVAL_ADDR": target, "FANGPIN_ACTOR": json.dumps(actor) if actor else ""}
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


def lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


async def test_cadres_list_show_and_sign_a_case_from_the_command_line(
    db: Database, ctx: ApprovalContext, clock: Clock, grpc_target: str
) -> None:
    case, _ = await committed(db, lambda uow: handlers.on_screening_decided(uow, ctx, decision()))
    listed = await fangpin(
        grpc_target, "case", "list", "--region", VILLAGE, "--step", "application"
    )
    assert listed.exit_code == 0, listed.output
    assert [c["case_id"] for c in lines(listed)] == [case.id]

    signed = await fangpin(
        grpc_target,
        "case", "sign", case.id, "--step", "application", "--comment", "代申请",
        actor=VILLAGE_CADRE,
    )  # fmt: skip
    assert signed.exit_code == 0, signed.output
    assert lines(signed)[0]["step"] == "verification"

    verified = await fangpin(
        grpc_target,
        "case", "sign", case.id,
        "--co-signer", f"T-01/赵镇长/town/{VILLAGE[:9]}/town_officer",
        "--actor-id", "V-02", "--actor-name", "周文书",  # options win over $FANGPIN_ACTOR
        actor=VILLAGE_CADRE,
    )  # fmt: skip
    assert verified.exit_code == 0, verified.output
    shown = await fangpin(grpc_target, "case", "show", case.id)
    timeline = lines(shown)[0]["timeline"]
    assert timeline[-1]["actor"]["id"] == "V-02"
    assert timeline[-1]["co_signers"][0]["id"] == "T-01"

    published = await fangpin(grpc_target, "case", "publish-notice", case.id, actor=VILLAGE_CADRE)
    assert published.exit_code == 0, published.output
    notice = await fangpin(grpc_target, "case", "notice-text", VILLAGE, "--village-name", "幸福村")
    assert notice.exit_code == 0
    assert "幸福村防止返贫监测对象公示\n" in notice.stdout  # the server logs share stdout here


async def test_a_refused_action_exits_2_with_the_reason(
    db: Database, ctx: ApprovalContext, grpc_target: str
) -> None:
    case, _ = await committed(db, lambda uow: handlers.on_screening_decided(uow, ctx, decision()))
    town = VILLAGE_CADRE | {"id": "T-01", "name": "赵镇长", "level": "town", "region": VILLAGE[:9]}
    refused = await fangpin(grpc_target, "case", "sign", case.id, actor=town)
    assert refused.exit_code == 2
    assert "PERMISSION_DENIED: town 赵镇长 (T-01) may not sign application" in refused.output
    missing = await fangpin(grpc_target, "case", "sign", case.id)
    assert missing.exit_code == 2
    assert "actor.id: required (option --actor-id or FANGPIN_ACTOR)" in missing.output


async def test_register_show_prints_the_households_status_and_open_case(
    db: Database, ctx: ApprovalContext, grpc_target: str
) -> None:
    case, _ = await committed(db, lambda uow: handlers.on_screening_decided(uow, ctx, decision()))
    for level, actor_id, region in (("village", "V-01", VILLAGE), ("town", "T-01", VILLAGE[:9])):
        confirmed = await fangpin(
            grpc_target,
            "case", "green-channel", case.id, "--comment", "房屋因山洪损毁",
            actor=VILLAGE_CADRE | {"id": actor_id, "level": level, "region": region},
        )  # fmt: skip
        assert confirmed.exit_code == 0, confirmed.output
    shown = await fangpin(grpc_target, "register", "show", "H00001")
    assert shown.exit_code == 0, shown.output
    [entry] = lines(shown)
    assert (entry["status"], entry["green_channel"], entry["open_case_id"]) == (
        "monitored",
        True,
        case.id,
    )
    listed = await fangpin(grpc_target, "register", "list", "--status", "monitored")
    assert [e["household_id"] for e in lines(listed)] == ["H00001"]


async def test_text_actions_send_their_text_and_require_it_where_it_is_required(
    db: Database, ctx: ApprovalContext, grpc_target: str
) -> None:
    case, _ = await committed(db, lambda uow: handlers.on_screening_decided(uow, ctx, decision()))
    missing = await fangpin(grpc_target, "case", "withdraw", case.id, actor=VILLAGE_CADRE)
    assert missing.exit_code == 2 and "--reason" in missing.output
    withdrawn = await fangpin(
        grpc_target,
        "case", "withdraw", case.id, "--reason", "家庭收入已恢复", "--attachment", "doc-1",
        actor=VILLAGE_CADRE,
    )  # fmt: skip
    assert withdrawn.exit_code == 0, withdrawn.output
    [shown] = lines(await fangpin(grpc_target, "case", "show", case.id))
    assert shown["status"] == "withdrawn"
    assert shown["timeline"][-1]["reason"] == "家庭收入已恢复"
    assert shown["timeline"][-1]["attachments"] == ["doc-1"]
