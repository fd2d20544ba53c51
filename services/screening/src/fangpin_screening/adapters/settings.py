"""Screening's own runtime settings, beside the kit's (policy numbers live in the rulesets)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ScreeningSettings(BaseSettings):
    """Where intake's registry is, and the rhythm of the re-screen and scale-risk jobs.

    Env prefix `FANGPIN_SCREENING_`, except the registry address, `FANGPIN_INTAKE_ADDR`
    (the name the CLI uses for intake too).
    """

    model_config = SettingsConfigDict(
        env_prefix="FANGPIN_SCREENING_", extra="ignore", populate_by_name=True
    )

    intake_addr: str = Field(
        default="127.0.0.1:50051",
        validation_alias=AliasChoices("FANGPIN_INTAKE_ADDR", "intake_addr"),
        description="intake's gRPC address (host:port), streamed from for a county re-screen",
    )
    rescreen_schedule: bool = Field(
        default=True,
        description="check at start and daily whether a new ruleset is in force, re-screen then",
    )
    rescreen_batch: int = Field(
        default=500, ge=1, le=20000, description="households decided and committed together"
    )
    rescreen_retry_seconds: float = Field(
        default=600.0, gt=0, description="wait before retrying a failed scheduled re-screen"
    )
    rescreen_lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="a run whose replica sent no progress for this long is taken over",
    )
    scale_watch_schedule: bool = Field(
        default=True, description="run the village scale-risk watch at start and daily"
    )
