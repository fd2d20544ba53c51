"""Bus subjects and streams of CONTRACT section 4: `fp.<county>.<domain>.<event>[.<dept>]`."""

from __future__ import annotations

from typing import Final

DEPARTMENTS: Final = (
    "civil_affairs",
    "medical_insurance",
    "health",
    "education",
    "housing",
    "water",
    "hrss",
    "disabled_persons",
    "emergency",
    "agriculture",
    "public_security",
    "finance",
    "commerce_federation",
    "development_reform",
    "transport",
    "other",
)

# One JetStream stream per domain; every subject of the contract falls into exactly one.
DOMAINS: Final = (
    "warning",
    "clue",
    "screening",
    "case",
    "plan",
    "measure",
    "task",
    "followup",
    "notice",
    "dlq",
)

SERVICES: Final = ("intake", "screening", "approval", "assistance", "notify")


def subject(county: str, domain: str, event: str | None = None, dept: str | None = None) -> str:
    """`fp.<county>.<domain>[.<event>][.<dept>]`."""
    parts = ["fp", county, domain]
    if event:
        parts.append(event)
    if dept:
        parts.append(dept)
    return ".".join(parts)


def stream_name(county: str, domain: str) -> str:
    """JetStream stream holding every subject of one domain in one county."""
    return f"FP_{county}_{domain.upper()}"


def stream_subjects(county: str, domain: str) -> list[str]:
    return [f"fp.{county}.{domain}.>"]


def dlq_subject(county: str, service: str) -> str:
    return subject(county, "dlq", service)


def event_type(domain: str, event: str) -> str:
    """CloudEvents `type`: `cn.fangpin.<domain>.<event>.v1`."""
    return f"cn.fangpin.{domain}.{event}.v1"
