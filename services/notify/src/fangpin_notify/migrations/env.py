"""Alembic environment of notify's store."""

from fangpin_kit.migrations import run_env
from fangpin_notify.adapters.orm import metadata

run_env(metadata, "notify")
