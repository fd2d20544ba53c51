"""Scale-risk watch (规模性返贫风险): village aggregates and warning clusters, each alert once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from fangpin_contracts.cloudevents import new_event
from fangpin_contracts.events import ScaleRiskAlert as ScaleRiskAlertPayload
from fangpin_contracts.subjects import subject
from fangpin_kit.db import Database, UnitOfWork
from fangpin_screening.adapters.orm import ScaleAlertRow
from fangpin_screening.adapters.repository import (
    ClueRecordRepository,
    RescreenRepository,
    ScaleAlertRepository,
    SnapshotRepository,
)
from fangpin_screening.domain.engine import CompiledRuleset
from fangpin_screening.domain.scale_risk import (
    WARNING_CLUSTER,
    ScaleRiskAlert,
    watch_scale_risk,
)

if TYPE_CHECKING:
    from fangpin_screening.service_layer.handlers import ScreeningContext


def _key(alert: ScaleRiskAlert) -> tuple[str, str, str]:
    return alert.village, alert.kind, alert.warning_kind or ""


def _row_key(row: ScaleAlertRow) -> tuple[str, str, str]:
    return row.village, row.indicator, row.warning_kind


def _figures(alert: ScaleRiskAlert) -> tuple[float, float]:
    """The value compared and the parameter it crossed."""
    values = alert.values
    if alert.kind == "unresolved_share":
        return float(values["share"]), float(values["scale_unresolved_share"])
    if alert.kind == "low_mean_income":
        return float(values["mean_per_capita"]), float(values["floor"])
    return float(values["warnings"]), float(values["scale_cluster_min_warnings"])


def _window_start(alert: ScaleRiskAlert, as_of: date) -> date:
    if alert.kind == WARNING_CLUSTER:
        return date.fromisoformat(str(alert.values["window_start"]))
    return as_of


async def _open(
    uow: UnitOfWork,
    ctx: ScreeningContext,
    alerts: Sequence[ScaleRiskAlert],
    ruleset: CompiledRuleset,
    as_of: date,
    village: str | None = None,
) -> list[ScaleAlertRow]:
    """Send each alert whose condition is not already under an open alert (an episode)."""
    repo = ScaleAlertRepository(uow.session)
    active = {_row_key(r) for r in await repo.active(village)}
    sent: list[ScaleAlertRow] = []
    now = ctx.clock()
    for alert in alerts:
        key = _key(alert)
        if key in active:
            continue
        alert_village, indicator, warning_kind = key
        window_start = _window_start(alert, as_of)
        alert_id = ".".join(
            p for p in (alert_village, indicator, warning_kind, window_start.isoformat()) if p
        )
        again = await repo.get(alert_id)
        if again is not None:  # cleared and back within the same window: still the one alert
            again.cleared_on = None
            continue
        value, limit = _figures(alert)
        details: dict[str, Any] = {
            **alert.values,
            "as_of": as_of.isoformat(),
            "window_start": window_start.isoformat(),
            "ruleset": ruleset.ruleset_id,
        }
        if warning_kind:
            details["warning_kind"] = warning_kind
        row = ScaleAlertRow(
            alert_id=alert_id,
            village=alert_village,
            indicator=indicator,
            warning_kind=warning_kind,
            window_start=window_start,
            opened_on=as_of,
            value=value,
            limit=limit,
            ruleset=ruleset.ruleset_id,
            details=details,
            sent_at=now,
        )
        repo.add(row)
        active.add(key)
        payload = ScaleRiskAlertPayload(
            alert_id=alert_id,
            village=alert_village,
            indicator=indicator,
            value=value,
            limit=limit,
            details=details,
        )
        uow.emit(
            subject(ctx.county, "screening", "scale_risk"),
            new_event(
                domain="screening",
                event="scale_risk",
                county=ctx.county,
                source=ctx.source,
                data=payload,
                subject=alert_village,
                event_id=f"scale_risk.{alert_id}",
                time=now,
            ),
        )
        sent.append(row)
    return sent


async def check_cluster(
    uow: UnitOfWork, ctx: ScreeningContext, village: str, kind: str, as_of: date
) -> list[ScaleAlertRow]:
    """Warnings of one kind in one village within the window: alert once when they cluster."""
    ruleset = ctx.rules.on(as_of)
    params = ruleset.params
    start = as_of - timedelta(days=params.scale_cluster_window_days - 1)
    warnings = await ClueRecordRepository(uow.session).in_window(start, as_of, village, kind)
    alerts = watch_scale_risk([], warnings, as_of, params)
    return await _open(uow, ctx, alerts, ruleset, as_of, village)


async def watch(database: Database, ctx: ScreeningContext, as_of: date) -> list[ScaleAlertRow]:
    """The daily watch over the county: alerts sent now; alerts whose condition ended close.

    Village aggregates (share of unresolved monitored households, mean per-capita income) are
    computed over the households screening holds a record of, once a county re-screen has
    completed: before that, screening knows only the clue households, whose mean says nothing
    about a village. Warning clusters are watched from the first clue on.
    """
    async with database.uow() as uow:
        ruleset = ctx.rules.on(as_of)
        params = ruleset.params
        registry_known = await RescreenRepository(uow.session).registry_screened()
        households = (
            await SnapshotRepository(uow.session).village_households() if registry_known else []
        )
        start = as_of - timedelta(days=params.scale_cluster_window_days - 1)
        warnings = await ClueRecordRepository(uow.session).in_window(start, as_of)
        alerts = watch_scale_risk(households, warnings, as_of, params)
        current = {_key(a) for a in alerts}
        for row in await ScaleAlertRepository(uow.session).active():
            watched = registry_known or row.indicator == WARNING_CLUSTER
            if watched and _row_key(row) not in current:
                row.cleared_on = as_of
        sent = await _open(uow, ctx, alerts, ruleset, as_of)
        await uow.commit()
    return sent
