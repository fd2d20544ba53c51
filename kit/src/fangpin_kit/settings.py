"""Runtime settings from env vars (prefix `FANGPIN_`), the same names for every service process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_GRPC_PORTS = {
    "intake": 50051,
    "screening": 50052,
    "approval": 50053,
    "assistance": 50054,
    "notify": 50055,
}


def repo_root() -> Path:
    """The checkout this code runs from (where `rulesets/` and `var/` live)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "rulesets").is_dir() and (parent / "pyproject.toml").is_file():
            return parent
    return Path.cwd()


class ServiceSettings(BaseSettings):
    """What one service process needs to know about its environment."""

    model_config = SettingsConfigDict(env_prefix="FANGPIN_", extra="ignore")

    service: str = Field(default="fangpin", description="service name, set by the entry point")
    county: str = Field(default="652827", pattern=r"^[0-9]{6}$")
    nats_url: str = "nats://127.0.0.1:4222"
    db_url: str = ""
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 0
    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|console)$")
    var_dir: Path = Field(default_factory=lambda: repo_root() / "var")
    rulesets_dir: Path = Field(default_factory=lambda: repo_root() / "rulesets")
    province: str | None = Field(default=None, pattern=r"^[0-9]{2}$")
    # The county's own holiday/make-up-day file, added to rulesets/calendar.yaml (see workdays).
    calendar_file: Path | None = None

    # Reliability knobs (see kit/bus.py, kit/outbox.py).
    max_deliver: int = Field(default=5, ge=1)
    ack_wait_seconds: float = Field(default=30.0, gt=0)
    retry_backoff_seconds: float = Field(default=0.5, ge=0)
    duplicate_window_seconds: float = Field(default=600.0, gt=0)
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    outbox_batch: int = Field(default=200, ge=1)
    pull_batch: int = Field(default=50, ge=1)
    stream_replicas: int = Field(default=1, ge=1)

    # Shifts the service's clock (drills, end-to-end tests that let public-notice days pass).
    # Never set in production.
    clock_offset_seconds: float = 0.0

    @field_validator("nats_url")
    @classmethod
    def _nats_scheme(cls, v: str) -> str:
        for url in v.split(","):
            if not url.strip().startswith(("nats://", "tls://", "ws://", "wss://")):
                raise ValueError(f"nats_url: {url!r} is not a nats:// URL")
        return v

    @property
    def nats_servers(self) -> list[str]:
        return [u.strip() for u in self.nats_url.split(",") if u.strip()]

    @property
    def province_code(self) -> str:
        """Province of the county unless configured explicitly (first two digits of the code)."""
        return self.province or self.county[:2]

    def clock(self) -> datetime:
        """The service's current time (UTC), honouring `clock_offset_seconds`."""
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset_seconds)

    def resolved_db_url(self) -> str:
        if self.db_url:
            return self.db_url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{self.var_dir / (self.service + '.db')}"

    def resolved_grpc_port(self) -> int:
        return self.grpc_port or DEFAULT_GRPC_PORTS.get(self.service, 50050)


def load_settings(service: str, **overrides: object) -> ServiceSettings:
    """Settings for `service` from the environment, with explicit overrides (tests)."""
    return ServiceSettings(service=service, **overrides)  # type: ignore[arg-type]
