# The two commands of the README: `make run` (install what is missing, then run the booth)
# and `make test` (install what is missing, then run the tests). The other test targets, the
# marks they select by and how the parallel run is arranged: docs/testing.md.
VENV := .venv
ARGS ?=
PYTEST_ARGS ?=
PYTEST := $(VENV)/bin/python -m pytest
# What runs between the setup and the tests of `make test` and `make test-quick`.
CHECKS := lint
# pytest-xdist workers. The tests mostly wait (on brokers, processes, timeouts), so twice the
# cores; the ones that must not run beside their own kind share an xdist_group.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))
PARALLEL := -n $(TEST_WORKERS) --dist loadgroup
# What `make test-quick` leaves out (pyproject.toml and tests/conftest.py say what each means).
NOT_QUICK := broker or browser or netns or network or e2e or cups

.PHONY: setup setup-test run lint test test-quick soak bench

setup:
	bash deploy/setup-dev.sh

setup-test:
	bash deploy/setup-dev.sh --test

run: setup
	$(VENV)/bin/booth up $(ARGS)

# ruff (lint rules, then format), mypy, import-linter (pyproject.toml and .importlinter say what
# each checks and why). All four run; then each that failed says how to fix what it printed.
lint: setup-test
	@start=$$(date +%s); failed=""; \
	echo "lint: ruff check"; $(VENV)/bin/ruff check . || \
	  failed="$$failed\n  ruff check: fix the lines above ($(VENV)/bin/ruff check --fix . does the [*] ones)"; \
	echo "lint: ruff format --check"; $(VENV)/bin/ruff format --check . || \
	  failed="$$failed\n  ruff format: run $(VENV)/bin/ruff format ."; \
	echo "lint: mypy"; $(VENV)/bin/mypy || \
	  failed="$$failed\n  mypy: fix the types above; a needed suppression is '# type: ignore[code]  # why'"; \
	echo "lint: lint-imports"; $(VENV)/bin/lint-imports --no-logo || \
	  failed="$$failed\n  lint-imports: an import above breaks a contract of .importlinter"; \
	took=$$(( $$(date +%s) - start )); \
	if [ -n "$$failed" ]; then printf "lint FAILED in %s s:%b\n" "$$took" "$$failed"; exit 1; fi; \
	echo "lint: clean in $$took s"

test: setup-test $(CHECKS)
	$(PYTEST) $(PARALLEL) --durations=15 $(PYTEST_ARGS)

test-quick: setup-test $(CHECKS)
	$(PYTEST) $(PARALLEL) -m "not ($(NOT_QUICK))" $(PYTEST_ARGS)

# The 500-job soak (`make test` runs 150 jobs of it); its figures: docs/benchmarks.md.
soak: setup-test
	BOOTH_SOAK_JOBS=500 $(PYTEST) -s tests/e2e/test_soak.py $(PYTEST_ARGS)

bench: setup-test
	$(VENV)/bin/python bench/run_all.py
