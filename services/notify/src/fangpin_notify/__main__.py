"""`python -m fangpin_notify [serve|migrate]`."""

from fangpin_kit.runtime import run_service
from fangpin_notify.bootstrap import SPEC

if __name__ == "__main__":
    run_service(SPEC)
