# Two commands a new machine needs: `make run` and `make test` (README.md).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

# The test stack runs beside a `make run` stack: its own ports, state folder and names.
TEST_STATE ?= $(HOME)/.local/state/newspipe-test
TEST_ENV := NEWSPIPE_STACK__KAFKA_PORT=19092 NEWSPIPE_STACK__KAFKA_CONTROLLER_PORT=19093 \
	NEWSPIPE_STACK__ES_PORT=19200 NEWSPIPE_STACK__ES_TRANSPORT_PORT=19300 \
	NEWSPIPE_STACK__STATE_DIR=$(TEST_STATE) \
	NEWSPIPE_KAFKA__BOOTSTRAP=127.0.0.1:19092 NEWSPIPE_ES__URL=http://127.0.0.1:19200

.PHONY: install run test check unit bench clean system-deps

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

run: install
	$(PY) -m newspipe stack up
	$(PY) -m newspipe run --replay seeds

check: install
	$(VENV)/bin/ruff format --check newspipe services tests bench
	$(VENV)/bin/ruff check newspipe services tests bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

unit: install
	$(PY) -m pytest -q tests/unit

# System packages the tests drive: headless Chromium (the dashboard), nginx (TLS + auth in front
# of Elasticsearch) and openssl (certificates). Installed here when missing (as root, Debian),
# else a clear message.
SYSTEM_DEPS := chromium chromium-driver nginx-light openssl
system-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && \
	  { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } && command -v openssl >/dev/null || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_DEPS); } || \
	{ echo "make test needs: sudo apt-get install $(SYSTEM_DEPS)"; exit 1; }

# Every run starts from an empty test stack: each test makes its own topics and indices, and a
# broker that keeps thousands of old partitions takes minutes to start.
test: check system-deps
	$(TEST_ENV) $(PY) -m newspipe stack down
	rm -rf $(TEST_STATE)/kafka/data $(TEST_STATE)/elasticsearch/data
	$(TEST_ENV) $(PY) -m newspipe stack up
	set +e; $(TEST_ENV) NEWSPIPE_TESTS_NEED_STACK=1 $(PY) -m pytest -q -p no:cacheprovider tests; \
	rc=$$?; \
	$(TEST_ENV) $(PY) -m newspipe stack down; exit $$rc

bench: install
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -m newspipe stack up  # idempotent; left running, as `make run` leaves it
	$(PY) bench/run.py             # ceilings, in-process, replay (1 and 2 workers), latency, RSS, CPU
	$(PY) bench/enrich_throughput.py  # enrichment against the spaCy baseline, same texts
	$(PY) bench/dedup_scale.py     # the link stage's cost and memory per article up to 100k

clean:
	rm -rf $(VENV) inbox processed rejected test-artifacts
