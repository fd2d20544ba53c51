"""Every `--help` renders, and `fangpin case --help` tells the procedure as the server runs it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

from typer.main import get_command
from typer.testing import CliRunner, Result

from fangpin_approval.adapters.rules import procedure_rules_provider
from fangpin_approval.domain.procedure import DEFAULT_FLOWS, FlowDefinition, FlowKind
from fangpin_cli.case import PROCEDURES
from fangpin_cli.main import app
from fangpin_kit.settings import repo_root

# the ruleset in force on this day is the one the baseline figures of the help describe
BASELINE_DAY = date(2026, 6, 1)


def invoke_help(path: tuple[str, ...]) -> Result:
    return CliRunner().invoke(app, [*path, "--help"], prog_name="fangpin", env={"COLUMNS": "120"})


def help_of(*path: str) -> str:
    result = invoke_help(path)
    assert result.exit_code == 0, f"fangpin {' '.join(path)} --help: {result.output}"
    return result.stdout


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and group under `command`, lazily registered ones included."""
    yield path
    commands = getattr(command, "commands", None)
    if commands is None:
        return
    for name in list(commands):
        yield from command_paths(commands[name], (*path, name))


def latest_flow(kind: str) -> FlowDefinition:
    flow_kind = FlowKind(kind)
    return DEFAULT_FLOWS.get(flow_kind, DEFAULT_FLOWS.versions(flow_kind)[-1])


def procedure_items(text: str, kind: str) -> dict[str, str]:
    """`{step: its text}` of the numbered items of `kind`'s block in `case --help`, in order."""
    block = text.split(f"\n  {kind} ", 1)[1].split("\n\n", 1)[0]
    items: dict[str, str] = {}
    item = r"\n    (\d+)\. (\w+) [^:]*: (.*(?:\n       .*)*)"  # `1. step 名称: what happens`
    for number, step, rest in re.findall(item, block):
        assert int(number) == len(items) + 1
        items[step] = " ".join(rest.split())
    return items


def test_every_command_of_the_tree_has_a_help_that_renders() -> None:
    paths = list(command_paths(get_command(app)))
    assert {("case", "sign"), ("plan", "adjust"), ("notify", "list"), ("ops", "stats")} <= set(
        paths
    )
    failures = []
    for path in paths:
        result = invoke_help(path)
        usage = " ".join(("Usage: fangpin", *path))
        if result.exit_code != 0 or not result.stdout.startswith(usage):
            failures.append((" ".join(path), result.exit_code, result.output[-300:]))
    assert failures == []


def test_case_sign_help_renders_the_co_signer_format_with_its_brackets() -> None:
    text = help_of("case", "sign")
    assert "ID/NAME/LEVEL/REGION[/ROLE]" in " ".join(text.split())
    assert "--special-reason" in text and "--co-signer" in text


def test_brackets_in_a_help_are_text_not_markup() -> None:
    assert "type.sub[@member]" in help_of("plan", "adjust")


def test_case_help_lists_each_procedures_steps_in_the_servers_order() -> None:
    text = help_of("case")
    for kind, steps in PROCEDURES.items():
        flow = latest_flow(kind)
        assert list(steps) == [rule.step.value for rule in flow.steps]
        assert list(procedure_items(text, kind)) == list(steps)


def test_case_help_says_what_each_step_allows_as_the_server_does() -> None:
    text = help_of("case")
    identification = latest_flow("identification")
    described = procedure_items(text, "identification")
    for kind in PROCEDURES:
        flow = latest_flow(kind)
        for rule, (step, item) in zip(flow.steps, procedure_items(text, kind).items(), strict=True):
            if item == "as above":  # the same rule as the identification's step
                assert rule == identification.rule(rule.step)
                item = described[step]
            assert ("may reject" in item) == rule.can_reject, step
            assert ("--co-signer" in item) == rule.co_signed, step
            assert ("publish-notice" in item) == rule.public_notice, step
            if rule.can_return:
                assert f"`case return` to {flow.previous_step(rule.step)}" in item
            if rule.public_notice:
                assert f"back to {flow.objection_returns_to}" in item


def test_case_help_names_who_withdraws_as_the_server_allows() -> None:
    text = " ".join(help_of("case").split())
    said = {"identification": "the household or the village", "elimination": "the village"}
    for kind, who in said.items():
        assert f"{kind}: {who}" in text
        named = {level for level in ("household", "village", "town", "county") if level in who}
        assert named == {level.value for level in latest_flow(kind).withdraw_levels}


def test_the_baseline_time_limits_in_the_help_are_the_rulesets() -> None:
    params = procedure_rules_provider(repo_root() / "rulesets", None)(BASELINE_DAY)
    text = " ".join(help_of("case").split())
    assert f"due {params.verification_working_days} working days after the clue" in text
    assert f"at least {params.verification_min_cadres} (--co-signer)" in text
    assert f"at least {params.notice_min_days} days" in text
    assert f"within {params.green_channel_months} month" in text
    assert f"`case system-entry` within {params.system_entry_days} days" in text
    assert f"plan (一户一策) is due within {params.plan_due_days} days" in text
    assert f"clue to county approval within {params.approval_limit} days" in text
    assert params.approval_limit_unit == "calendar"


def test_publishing_the_notice_and_signing_the_appraisal_tell_the_same_order() -> None:
    notice = " ".join(help_of("case", "publish-notice").split())
    sign = " ".join(help_of("case", "sign").split())
    assert "after the appraisal meeting (民主评议), before the step is signed" in notice
    assert "signs village_appraisal from the day after its last day" in notice
    assert "At village_appraisal the step is signed only once the public notice has run" in sign
