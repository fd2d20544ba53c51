"""When a re-screened decision differs from the household's last one (the trace aside)."""

from __future__ import annotations

import json
from typing import Final

import numpy as np

from .codes import CATEGORIES
from .engine import BatchDecisions, Decision
from .rules import RULES

COMPARED: Final = (
    "in_scope",
    "eligible",
    "category",
    "risk_types",
    "excluded_by",
    "referrals",
    "threshold",
)
"""Decision fields whose change is announced; figures and the trace alone are not."""

# Codes of the batch's risk, exclusion and guarantee columns: the engine's rule order.
_COLUMN_CODES: Final = {
    kind: np.array([r.code for r in RULES if r.kind == kind], dtype=object)
    for kind in ("risk", "exclusion", "guarantee")
}


def _key(
    in_scope: bool,
    eligible: bool,
    category: str | None,
    risk_types: list[str],
    excluded_by: list[str],
    referrals: list[str],
    threshold: float,
) -> str:
    fields = [in_scope, eligible, category, risk_types, excluded_by, referrals, threshold]
    return json.dumps(fields, separators=(",", ":"))


def outcome_key(decision: Decision) -> str:
    """The compared fields as canonical text, stored with each decision for the next run."""
    return _key(
        decision.in_scope,
        decision.eligible,
        decision.category,
        sorted(decision.risk_types),
        sorted(decision.excluded_by),
        sorted(decision.referrals),
        float(decision.threshold),
    )


def outcome_keys(batch: BatchDecisions) -> list[str]:
    """`outcome_key` of every household of a batch, read from its columns (no trace is built:
    a re-screen compares every household and announces few)."""
    threshold = float(batch.ruleset.params.monitoring_threshold)
    columns = (
        (batch.risks, _COLUMN_CODES["risk"]),
        (batch.excluded, _COLUMN_CODES["exclusion"]),
        (batch.referred, _COLUMN_CODES["guarantee"]),
    )
    keys = []
    for i in range(len(batch)):
        category = int(batch.category[i])
        codes = [sorted(names[np.asarray(mask[i], dtype=bool)].tolist()) for mask, names in columns]
        keys.append(
            _key(
                bool(batch.in_scope[i]),
                bool(batch.eligible[i]),
                CATEGORIES[category] if category >= 0 else None,
                *codes,
                threshold,
            )
        )
    return keys


def changed(previous_key: str | None, key: str, in_scope: bool, referrals: bool) -> bool:
    """Whether a re-screen announces a decision whose outcome key is `key`.

    A household screened before: when a compared field differs from its latest decision. A
    household never screened: when there is something to act on (in scope, or a failed
    guarantee to refer), so re-screening a registry never screened does not announce every
    household.
    """
    if previous_key is None:
        return in_scope or referrals
    return previous_key != key
