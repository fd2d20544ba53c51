"""Scale-risk watch (规模性返贫): village shares, mean income and warning clusters."""

from __future__ import annotations

from datetime import date, timedelta

from screening_support import params

from fangpin_screening.domain.scale_risk import VillageHousehold, WarningRecord, watch_scale_risk

AS_OF = date(2024, 6, 29)
V1, V2 = "652827100011", "652827100022"


def village(
    code: str, n: int, unresolved: int, per_capita: float = 20000.0
) -> list[VillageHousehold]:
    return [VillageHousehold(code, per_capita, k < unresolved) for k in range(n)]


def test_share_of_unresolved_households_above_the_parameter_alerts() -> None:
    households = village(V1, 100, 3) + village(V2, 100, 2)
    alerts = watch_scale_risk(households, [], AS_OF, params())
    assert [(a.village, a.kind) for a in alerts] == [(V1, "unresolved_share")]
    assert alerts[0].values["share"] == 0.03
    assert alerts[0].values["unresolved"] == 3


def test_low_mean_income_below_the_multiple_of_threshold_alerts() -> None:
    households = village(V1, 10, 0, per_capita=10949.99) + village(V2, 10, 0, per_capita=10950.0)
    alerts = watch_scale_risk(households, [], AS_OF, params())
    assert [(a.village, a.kind) for a in alerts] == [(V1, "low_mean_income")]
    assert alerts[0].values["floor"] == 10950.0


def test_cluster_of_one_kind_within_the_window_alerts() -> None:
    window_start = AS_OF - timedelta(days=6)
    warnings = [WarningRecord(V1, "unemployment", window_start) for _ in range(4)]
    warnings.append(WarningRecord(V1, "unemployment", AS_OF))
    warnings += [WarningRecord(V1, "disaster", AS_OF)] * 4
    warnings += [WarningRecord(V2, "unemployment", window_start - timedelta(days=1))] * 9
    alerts = watch_scale_risk([], warnings, AS_OF, params())
    assert [(a.village, a.kind, a.warning_kind) for a in alerts] == [
        (V1, "warning_cluster", "unemployment")
    ]
    assert alerts[0].values["warnings"] == 5


def test_parameters_decide_the_alerts() -> None:
    households = village(V1, 100, 3)
    assert watch_scale_risk(households, [], AS_OF, params(scale_unresolved_share=0.05)) == []


def test_quiet_county_raises_no_alert() -> None:
    assert watch_scale_risk(village(V1, 50, 1), [], AS_OF, params()) == []
    assert watch_scale_risk([], [], AS_OF, params()) == []
