"""The zh-CN vocabulary names every code of every code list in the code, and only those."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any, get_args

import pytest

from fangpin_approval.domain import actors, case, deadlines, events, ledger, procedure
from fangpin_approval.domain import codes as approval_codes
from fangpin_assistance.domain import codes as assistance_codes
from fangpin_assistance.domain import followup, plan
from fangpin_assistance.domain.events import TaskKind
from fangpin_assistance.service_layer.handlers import REPLACEMENT_TASK
from fangpin_contracts import events as contract_events
from fangpin_contracts import household, subjects
from fangpin_contracts.vocabulary import (
    Vocabulary,
    VocabularyError,
    build,
    label,
    load,
    parse,
)
from fangpin_intake.domain import clues
from fangpin_notify.adapters.repository import NOTICE_STATES
from fangpin_notify.domain import kinds as notify_kinds
from fangpin_notify.domain.templates import DIGEST_KIND
from fangpin_screening.domain import codes as screening_codes
from fangpin_screening.domain import elimination

CONTRACT = Path(__file__).resolve().parents[2] / "spec" / "CONTRACT.md"


def contract_departments() -> list[str]:
    """The `<dept>` codes CONTRACT section 4 lists, v1.1 additions included."""
    text = CONTRACT.read_text(encoding="utf-8")
    paragraph = text.split("`<dept>` codes:", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"`([a-z_]+)`", paragraph)


def values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


def literal(alias: Any) -> list[str]:
    return list(get_args(alias))


def field_literal(model: Any, name: str) -> list[str]:
    return literal(model.model_fields[name].annotation)


# kind -> every code list in the code whose codes it names
SOURCES: dict[str, list[Iterable[str]]] = {
    "category": [
        values(approval_codes.Category),
        values(assistance_codes.Category),
        screening_codes.CATEGORIES,
    ],
    "risk_type": [
        values(approval_codes.RiskType),
        values(assistance_codes.RiskType),
        screening_codes.RISK_TYPES,
    ],
    "exclusion": [values(approval_codes.Exclusion), screening_codes.EXCLUSIONS],
    "referral": [values(assistance_codes.Referral), screening_codes.REFERRALS],
    "decision_reason": [field_literal(contract_events.ScreeningDecided, "reason")],
    "rollback_reason": [
        [elimination.ROLLBACK_INCOME, elimination.ROLLBACK_IN_SCOPE, elimination.ROLLBACK_GUARANTEE]
    ],
    "elimination_condition": [
        [
            elimination.INCOME_NOT_STABLE,
            elimination.GUARANTEES_NOT_CONSOLIDATED,
            elimination.RISKS_REMAIN,
            elimination.NEW_RISKS,
            elimination.STILL_IN_SCOPE,
        ]
    ],
    "relation": [literal(household.Relation)],
    "hukou": [literal(household.Hukou)],
    "labor_capacity": [
        literal(household.LaborCapacity),
        values(assistance_codes.LaborCapacity),
    ],
    "employment": [literal(household.Employment)],
    "illness": [literal(household.Illness)],
    "school_stage": [
        literal(household.SchoolStage),
        values(assistance_codes.SchoolStage),
        screening_codes.NON_COMPULSORY_STAGES,
    ],
    "event_kind": [literal(household.EventKind)],
    "safety_net": [literal(household.SafetyNet), values(assistance_codes.SafetyNet)],
    "department": [
        subjects.DEPARTMENTS,
        literal(contract_events.Department),
        values(assistance_codes.Department),
        contract_departments(),
    ],
    "warning_kind": [literal(contract_events.WarningKind)],
    "service": [subjects.SERVICES],
    "bus_domain": [subjects.DOMAINS],
    "clue_source": [clues.CLUE_SOURCES],
    "clue_status": [literal(clues.ClueStatus)],
    "case_kind": [values(procedure.FlowKind), field_literal(contract_events.CaseEvent, "kind")],
    "step": [values(procedure.Step)],
    "case_status": [values(case.CaseStatus)],
    "outcome": [values(events.Outcome)],
    "case_action": [values(case.Action)],
    "green_channel_state": [values(case.GreenChannelState)],
    "elimination_mode": [values(approval_codes.EliminationMode)],
    "deadline": [
        values(deadlines.Deadline),
        [f.name for f in dataclasses.fields(deadlines.DueDates)],
        ["notice_start"],  # CaseEvent.due while a notice runs
    ],
    "register_status": [values(approval_codes.RegisterStatus)],
    "level": [values(actors.Level), ["province", "department", "operator"]],  # CONTRACT §5
    "audit_problem": [values(ledger.Problem)],
    "measure_status": [values(assistance_codes.MeasureStatus)],
    "reply_kind": [values(assistance_codes.ReplyKind)],
    "term_kind": [values(assistance_codes.TermKind)],
    "plan_status": [values(plan.PlanStatus)],
    "plan_rule": [values(plan.Rule)],
    "task_kind": [values(TaskKind), [REPLACEMENT_TASK]],
    "visit_mode": [values(followup.VisitMode)],
    "collection_method": [values(followup.CollectionMethod)],
    "household_situation": [values(assistance_codes.HouseholdSituation)],
    "notice_kind": [values(notify_kinds.EventKind), [DIGEST_KIND]],
    "notify_role": [values(notify_kinds.Role)],
    "channel": [values(notify_kinds.ChannelKind)],
    "phase": [values(notify_kinds.Phase)],
    "notice_state": [sorted(NOTICE_STATES)],
}


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_every_code_of_the_code_lists_has_a_chinese_label(kind: str) -> None:
    vocabulary = load()
    wanted = {code for source in SOURCES[kind] for code in source}
    missing = sorted(code for code in wanted if not vocabulary.has(kind, code))
    assert missing == [], f"vocabulary_zh.toml [{kind}] has no label for {missing}"


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_no_label_names_a_code_the_code_does_not_have(kind: str) -> None:
    known = {code for source in SOURCES[kind] for code in source}
    assert sorted(set(load().codes(kind)) - known) == []


def test_the_contract_lists_the_v1_1_departments_the_vocabulary_names() -> None:
    found = contract_departments()
    assert {"natural_resources", "rural_revitalization", "womens_federation"} <= set(found)
    assert label("department", "rural_revitalization") == "乡村振兴局"


def test_labels_are_the_domain_terms() -> None:
    assert label("category", "marginal") == "边缘易致贫户"
    assert label("risk_type", "illness") == "因病"
    assert label("step", "verification") == "入户核实"
    assert label("register_status", "eliminated") == "风险已消除"


def test_an_unknown_code_is_shown_as_itself_and_an_unknown_kind_is_an_error() -> None:
    assert label("risk_type", "locusts") == "locusts"
    assert label("category", "") == ""
    with pytest.raises(KeyError, match="risk_typo"):
        label("risk_typo", "illness")


def test_english_falls_back_to_the_code_and_an_unknown_language_is_refused() -> None:
    assert label("department", "hrss", "en") == "human resources and social security"
    assert label("step", "village_appraisal", "en") == "village_appraisal"
    with pytest.raises(ValueError, match="lang 'fr'"):
        label("step", "verification", "fr")


def test_extended_adds_labels_without_changing_the_original() -> None:
    base = load()
    more = base.extended("measure_type", {"finance": "金融帮扶"}, {"finance": "finance"})
    assert more.label("measure_type", "finance") == "金融帮扶"
    assert base.label("measure_type", "finance") == "finance"
    assert more.label("step", "verification") == "入户核实"


def test_a_malformed_file_is_refused_naming_file_kind_and_code() -> None:
    with pytest.raises(VocabularyError, match=r"zh\.toml: step\.verification: expected"):
        parse("zh.toml", '[step]\nverification = ""\n')
    with pytest.raises(VocabularyError, match=r"bad\.toml"):
        parse("bad.toml", "[step\n")
    with pytest.raises(VocabularyError, match=r"step\.nomination: no zh label"):
        build({"step": {"verification": "入户核实"}}, {"step": {"nomination": "nomination"}})


def test_a_vocabulary_needs_its_chinese_tables() -> None:
    with pytest.raises(VocabularyError):
        Vocabulary({"en": {}})
