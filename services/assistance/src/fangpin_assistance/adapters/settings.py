"""Assistance's own runtime settings (env prefix `FANGPIN_ASSISTANCE_`), beside the kit's."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AssistanceSettings(BaseSettings):
    """Operational knobs of the assistance process; policy numbers live in the rulesets."""

    model_config = SettingsConfigDict(env_prefix="FANGPIN_ASSISTANCE_", extra="ignore")

    sweep_seconds: float = Field(
        default=30.0, gt=0, description="how often reply time-outs and due tasks are checked"
    )
    task_lookahead_days: int = Field(
        default=30,
        ge=0,
        description="a follow-up task is announced on task.due this many days before its due date",
    )
    catalog_extensions: str = Field(
        default="", description="county catalog extension files, comma separated, merged in order"
    )
    cadre_roster: Path | None = Field(
        default=None,
        description="YAML `{region code: [cadre ids]}` loaded into the roster at start-up",
    )

    @property
    def catalog_extension_paths(self) -> list[Path]:
        return [Path(p.strip()) for p in self.catalog_extensions.split(",") if p.strip()]
