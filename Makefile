# `make run` and `make test` do all set-up on a fresh machine: venv, install, then run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast reliability install browser postgres bench team-check clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# Playwright cannot download its own browser here; the browser test drives Debian's chromium.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }

# The answer store's tests also run against a throwaway PostgreSQL cluster they start from Debian's server.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq postgresql; fi; }

run: install
	$(VENV)/bin/streamlit run dashboard/app.py

test: install browser postgres
	$(PY) -m pytest

# The fast tier: the core and the pages (against tests/fake_gateway.py), no Prefect server, no browser, no
# PostgreSQL cluster, no real model (tests marked backend, slow, postgres or model).
# `make test` runs these too, with everything else.
test-fast: install
	$(PY) -m pytest -n auto -m "not backend and not slow and not model and not postgres" tests/core tests/dashboard

# Team mode on this machine: PostgreSQL, a Prefect server on it, two workers, the dashboard's gateway; one JSON line.
team-check: install postgres
	$(PY) -m pipelines.team_check

# Only the bad-input, fault and hostile cases, then their figures as one JSON line (tests/reliability_report.py).
reliability: install browser postgres
	@report=$$(mktemp -d)/reliability.xml; \
	$(PY) -m pytest -m "bad_input or fault or hostile" -p tests.reliability_report -o junit_family=xunit1 --junitxml=$$report; \
	status=$$?; $(PY) -m tests.reliability_report $$report && exit $$status

bench: install
	for script in benchmarks/[!_]*.py; do $(PY) $$script; done

clean:
	rm -rf $(VENV) .data
