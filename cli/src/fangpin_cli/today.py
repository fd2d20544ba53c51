"""The CLI's "today": the date in China by the suite's clock (never the machine's local date).

`FANGPIN_CLOCK_OFFSET_SECONDS` shifts it exactly as it shifts the services' clocks, so a drill
or a test that names its date sees the same day in the CLI as in the services.
"""

from __future__ import annotations

from datetime import date, datetime

from fangpin_kit.clock import china_date
from fangpin_kit.settings import load_settings


def now() -> datetime:
    """The suite's current instant (UTC), honouring the configured clock offset."""
    return load_settings("cli").clock()


def today() -> date:
    """Today's date in China by the suite's clock."""
    return china_date(now())
