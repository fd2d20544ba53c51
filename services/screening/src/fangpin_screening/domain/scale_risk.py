"""Scale-risk watch (规模性返贫风险): per-village aggregates compared with ruleset parameters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final, Literal

import numpy as np

from .parameters import ScreeningParameters

AlertKind = Literal["unresolved_share", "low_mean_income", "warning_cluster"]

UNRESOLVED_SHARE: Final = "unresolved_share"
LOW_MEAN_INCOME: Final = "low_mean_income"
WARNING_CLUSTER: Final = "warning_cluster"


@dataclass(frozen=True)
class VillageHousehold:
    """A rural household as the watch sees it: its village, income, and monitoring state.

    `unresolved` means a monitored household whose risk is not yet eliminated (未消除风险).
    """

    village: str
    per_capita: float
    unresolved: bool


@dataclass(frozen=True)
class WarningRecord:
    """A department warning (部门筛查预警) about a household of a village."""

    village: str
    kind: str
    observed_at: date


@dataclass(frozen=True)
class ScaleRiskAlert:
    """One village crossing one scale-risk parameter, with the figures compared."""

    village: str
    kind: AlertKind
    values: Mapping[str, Any]
    warning_kind: str | None = None


def watch_scale_risk(
    households: Sequence[VillageHousehold],
    warnings: Sequence[WarningRecord],
    as_of: date,
    params: ScreeningParameters,
) -> list[ScaleRiskAlert]:
    """Alerts for villages at scale risk on `as_of`, sorted by village, kind, warning kind.

    - `unresolved_share`: unresolved monitored households / households above
      `scale_unresolved_share` (未消除风险监测对象占比较高);
    - `low_mean_income`: mean per-capita income below `scale_low_income_multiple` x the
      monitoring threshold (人均纯收入较低);
    - `warning_cluster`: at least `scale_cluster_min_warnings` warnings of one kind within the
      `scale_cluster_window_days` days up to and including `as_of`.
    """
    alerts = _village_alerts(households, params)
    alerts.extend(_clusters(warnings, as_of, params))
    return sorted(alerts, key=lambda a: (a.village, a.kind, a.warning_kind or ""))


def _village_alerts(
    households: Sequence[VillageHousehold], params: ScreeningParameters
) -> list[ScaleRiskAlert]:
    if not households:
        return []
    villages, index = np.unique([h.village for h in households], return_inverse=True)
    index = index.reshape(-1)
    total = np.bincount(index, minlength=len(villages))
    unresolved = np.bincount(
        index,
        weights=np.array([h.unresolved for h in households], dtype=float),
        minlength=len(villages),
    )
    income = np.bincount(
        index,
        weights=np.array([h.per_capita for h in households], dtype=float),
        minlength=len(villages),
    )
    share = unresolved / total
    mean = np.round(income / total, 2)
    floor = params.scale_low_income_multiple * params.monitoring_threshold
    alerts: list[ScaleRiskAlert] = []
    for k in np.flatnonzero(share > params.scale_unresolved_share).tolist():
        alerts.append(
            ScaleRiskAlert(
                str(villages[k]),
                "unresolved_share",
                {
                    "households": int(total[k]),
                    "unresolved": int(unresolved[k]),
                    "share": round(float(share[k]), 4),
                    "scale_unresolved_share": params.scale_unresolved_share,
                },
            )
        )
    for k in np.flatnonzero(mean < floor).tolist():
        alerts.append(
            ScaleRiskAlert(
                str(villages[k]),
                "low_mean_income",
                {
                    "households": int(total[k]),
                    "mean_per_capita": float(mean[k]),
                    "floor": floor,
                    "monitoring_threshold": params.monitoring_threshold,
                    "scale_low_income_multiple": params.scale_low_income_multiple,
                },
            )
        )
    return alerts


def _clusters(
    warnings: Sequence[WarningRecord], as_of: date, params: ScreeningParameters
) -> list[ScaleRiskAlert]:
    start = as_of - timedelta(days=params.scale_cluster_window_days - 1)
    counts: dict[tuple[str, str], int] = {}
    for w in warnings:
        if start <= w.observed_at <= as_of:
            counts[(w.village, w.kind)] = counts.get((w.village, w.kind), 0) + 1
    return [
        ScaleRiskAlert(
            village,
            "warning_cluster",
            {
                "warnings": count,
                "window_start": start.isoformat(),
                "scale_cluster_min_warnings": params.scale_cluster_min_warnings,
            },
            warning_kind=kind,
        )
        for (village, kind), count in counts.items()
        if count >= params.scale_cluster_min_warnings
    ]
