"""Builders for notify's integration tests: a movable clock, a context, and bus events."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fangpin_contracts.cloudevents import CloudEvent, new_event
from fangpin_kit.clock import ManualClock
from fangpin_kit.clock import in_china as at
from fangpin_notify.domain.kinds import ChannelKind
from fangpin_notify.domain.parameters import NotifyParameters
from fangpin_notify.domain.templates import default_catalog
from fangpin_notify.service_layer.context import NotifyContext

COUNTY = "652827"
TOWN = "652827101"
VILLAGE = "652827101001"
ID_NUMBER = "652827198001113756"
ESCALATION = {"household": "village", "village": "town", "town": "county", "county": "county"}


START = at(date(2024, 6, 3))


class MovableClock(ManualClock):
    """The kit's manual clock, starting on a named day (Monday 2024-06-03) unless told."""

    def __init__(self, now: datetime | None = None) -> None:
        super().__init__(now or START)


def parameters(**overrides: Any) -> NotifyParameters:
    values: dict[str, Any] = {
        "reminder_lead_days": 2,
        "escalation_after_days": 1,
        "digest_threshold": 5,
        "retry_max_attempts": 3,
        "retry_backoff_base_seconds": 30,
        "retry_backoff_max_seconds": 3600,
    }
    return NotifyParameters(**(values | overrides))


def make_context(
    clock: MovableClock,
    params: NotifyParameters | None = None,
    *,
    county: str = COUNTY,
    channels: tuple[ChannelKind, ...] = (ChannelKind.LOG, ChannelKind.WEBHOOK),
) -> NotifyContext:
    fixed = params or parameters()
    return NotifyContext(
        county=county,
        parameters=lambda _: fixed,
        escalation=lambda _: ESCALATION,
        catalog=default_catalog(),
        clock=clock,
        enabled_channels=channels,
        reminder_hour=8,
    )


def household(household_id: str = "H0001", village: str = VILLAGE) -> dict[str, Any]:
    return {
        "household_id": household_id,
        "region": {"county": village[:6], "town": village[:9], "village": village},
        "members": [
            {
                "id_number": ID_NUMBER,
                "name": "张三丰",
                "relation": "head",
                "birth_date": "1980-01-11",
            }
        ],
    }


def region(village: str = VILLAGE) -> dict[str, str]:
    return {"county": village[:6], "town": village[:9], "village": village}


def event(
    domain: str,
    name: str,
    data: dict[str, Any],
    *,
    county: str = COUNTY,
    event_id: str | None = None,
    when: datetime | None = None,
    subject: str | None = None,
) -> CloudEvent:
    return new_event(
        domain=domain,
        event=name,
        county=county,
        source="test",
        data=data,
        subject=subject or data.get("household_id"),
        event_id=event_id,
        time=when,
    )


def case_event(
    name: str,
    *,
    case_id: str = "C-7",
    step: str = "town_review",
    due: dict[str, date] | None = None,
    status: str = "open",
    county: str = COUNTY,
    village: str = VILLAGE,
    event_id: str | None = None,
    when: datetime | None = None,
    **data: Any,
) -> CloudEvent:
    payload: dict[str, Any] = {
        "case_id": case_id,
        "kind": "identification",
        "household_id": "H0001",
        "region": region(village),
        "step": step,
        "status": status,
        "flow_version": "2021",
        "category": "marginal",
        "risk_types": ["illness"],
        "due": {k: v.isoformat() for k, v in (due or {}).items()},
        "household": household(village=village),
        **data,
    }
    return event(
        "case",
        name,
        payload,
        county=county,
        event_id=event_id or f"{case_id}.{name}.{step}",
        when=when,
    )


def clue_event(
    *, clue_id: str = "CL-1", due: date = date(2024, 6, 10), county: str = COUNTY
) -> CloudEvent:
    return event(
        "clue",
        "accepted",
        {
            "clue_id": clue_id,
            "household_id": "H0001",
            "region": region(),
            "source": "department_warning",
            "dept": "medical_insurance",
            "kind": "high_medical_expense",
            "observed_at": "2024-06-01",
            "registered_at": "2024-06-03T02:00:00+00:00",
            "verification_due": due.isoformat(),
            "household": household(),
        },
        county=county,
        event_id=f"{clue_id}.accepted",
    )
