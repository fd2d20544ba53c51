"""Alembic environment of intake's store."""

from fangpin_intake.adapters.orm import metadata
from fangpin_kit.migrations import run_env

run_env(metadata, "intake")
