"""Alembic environment of screening's store."""

from fangpin_kit.migrations import run_env
from fangpin_screening.adapters.orm import metadata

run_env(metadata, "screening")
