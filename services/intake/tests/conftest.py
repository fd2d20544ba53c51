"""Intake's test helpers are importable as `intake_factories` (tests are not a package)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
