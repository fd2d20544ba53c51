# fangpin: `make run` starts the suite, `make test` runs every check. Both install what they need.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.fangpin-installed
SERVICES := intake screening approval assistance notify
PYTEST_ARGS ?=

.PHONY: install run test test-dates lint format alembic-check unit proto bench migration clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): uv.lock pyproject.toml $(UV) columnar/setup.py $(wildcard columnar/src/fangpin_columnar/*.c)
	UV_PYTHON=$(PYTHON) $(UV) sync --frozen --all-packages --quiet
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/fangpin run

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

alembic-check: install
	$(PY) -m fangpin_kit.migrations check $(foreach s,$(SERVICES),services/$(s)/src/fangpin_$(s)/migrations)

test: lint alembic-check
	$(PY) -m pytest $(PYTEST_ARGS)

# the date-sensitive part of the suite as if the machine's clock read other days (see
# docs/ARCHITECTURE.md, "How time flows"); FANGPIN_TEST_DATES="2027-10-08 ..." picks others
test-dates: install
	$(PY) tools/test_dates.py $(PYTEST_ARGS)

proto: install
	$(PY) tools/gen_proto.py

bench: install
	$(PY) bench/pipeline.py
	$(PY) bench/screening.py
	$(PY) bench/approval.py
	$(PY) bench/assistance.py
	$(PY) bench/notify.py
	$(PY) bench/rescreen.py

# make migration SERVICE=intake MSG="add clue outcome"
migration: install
	mkdir -p var
	FANGPIN_DB_URL=sqlite+aiosqlite:///$(CURDIR)/var/migration-$(SERVICE).db $(PY) -m fangpin_kit.migrations upgrade services/$(SERVICE)/src/fangpin_$(SERVICE)/migrations
	cd services/$(SERVICE) && FANGPIN_DB_URL=sqlite+aiosqlite:///$(CURDIR)/var/migration-$(SERVICE).db ../../$(VENV)/bin/alembic revision --autogenerate -m "$(MSG)"
	rm -f var/migration-$(SERVICE).db

clean:
	rm -rf var/
