"""What a department warning tells about a household, applied to its registry record.

A warning is a fact observed by a department system (a medical bill, a dropout, a collapsed
house). Intake writes the fact into the household record so screening decides on it. Facts only
ever make the record worse-off, never better: a later import or verification corrects them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date
from typing import Any

# warning kind -> the household event it records (household.schema.json `events[].kind`)
EVENT_OF_KIND = {
    "disaster": "disaster",
    "accident": "accident",
    "crop_failure": "industry_failure",
    "price_collapse": "industry_failure",
    "unemployment": "job_loss",
}

# warning kind -> the expense it raises by `amount`
EXPENSE_OF_KIND = {
    "high_medical_expense": "medical_self_paid",
    "disaster": "disaster_loss",
    "accident": "accident_cost",
}

SAFETY_NET_OF_KIND = {"new_dibao": "dibao", "new_tekun": "tekun"}


@dataclass(frozen=True)
class WarningFacts:
    kind: str
    observed_at: date
    amount: float | None = None
    id_number: str | None = None  # the member concerned, when the department knows it


def member_index(record: dict[str, Any], id_number: str) -> int | None:
    for i, member in enumerate(record.get("members", [])):
        if member.get("id_number") == id_number:
            return i
    return None


def apply_warning(record: dict[str, Any], facts: WarningFacts) -> tuple[dict[str, Any], list[str]]:
    """The record with the warning's facts applied, and a list of what changed (field paths)."""
    out = copy.deepcopy(record)
    changed: list[str] = []
    member = member_index(out, facts.id_number) if facts.id_number else None

    event_kind = EVENT_OF_KIND.get(facts.kind)
    if event_kind:
        event: dict[str, Any] = {"kind": event_kind, "date": facts.observed_at.isoformat()}
        if facts.amount is not None:
            event["loss"] = facts.amount
        events = out.setdefault("events", [])
        if event not in events:
            events.append(event)
            changed.append(f"events[{len(events) - 1}]")

    expense = EXPENSE_OF_KIND.get(facts.kind)
    if expense and facts.amount is not None:
        expenses = out.setdefault("expenses", {})
        if facts.amount > float(expenses.get(expense, 0)):
            expenses[expense] = facts.amount
            changed.append(f"expenses.{expense}")

    if facts.kind == "high_medical_expense" and member is not None:
        m = out["members"][member]
        if m.get("illness", "none") == "none":
            m["illness"] = "serious"
            changed.append(f"members[{member}].illness")
    elif facts.kind == "unsafe_housing" and out.get("housing_safe", True):
        out["housing_safe"] = False
        changed.append("housing_safe")
    elif facts.kind == "water_outage" and out.get("drinking_water_safe", True):
        out["drinking_water_safe"] = False
        changed.append("drinking_water_safe")
    elif facts.kind == "dropout" and member is not None:
        if not out["members"][member].get("out_of_school", False):
            out["members"][member]["out_of_school"] = True
            changed.append(f"members[{member}].out_of_school")
    elif facts.kind in SAFETY_NET_OF_KIND:
        net = SAFETY_NET_OF_KIND[facts.kind]
        if out.get("safety_net", "none") in ("none", "dibao") and out.get("safety_net") != net:
            out["safety_net"] = net
            changed.append("safety_net")
    elif facts.kind == "unemployment" and member is not None:
        m = out["members"][member]
        if m.get("employment") in ("migrant_stable", "local_job"):
            m["employment"] = "migrant_unstable"
            changed.append(f"members[{member}].employment")
    elif facts.kind == "new_disability" and member is not None:
        # the department reports a severe (grade 1-2) disability certificate
        m = out["members"][member]
        if not 1 <= int(m.get("disability_grade", 0)) <= 2:
            m["disability_grade"] = 2
            changed.append(f"members[{member}].disability_grade")
    return out, changed
