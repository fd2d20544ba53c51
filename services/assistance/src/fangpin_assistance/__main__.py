"""`python -m fangpin_assistance [serve|migrate]`."""

from fangpin_assistance.bootstrap import SPEC
from fangpin_kit.runtime import run_service

if __name__ == "__main__":
    run_service(SPEC)
