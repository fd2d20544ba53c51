"""Loaded by every Python process of a `make test-dates` run (tools/test_dates.py puts this
folder on PYTHONPATH): shifts the machine's wall clock as the process sees it by
`FANGPIN_TEST_MACHINE_OFFSET` seconds, with time still flowing (time-machine, tick=True).

All processes get the same offset, so pytest, the services it starts and the CLI agree on the
shifted "now". Monotonic clocks are untouched: timeouts and sleeps stay real.
"""

import os

_offset = os.environ.get("FANGPIN_TEST_MACHINE_OFFSET")
if _offset:
    from datetime import UTC, datetime, timedelta

    import time_machine

    time_machine.travel(datetime.now(UTC) + timedelta(seconds=float(_offset)), tick=True).start()
