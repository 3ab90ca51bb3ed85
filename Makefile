# The two commands of the README: `make run` (install what is missing, then run the booth)
# and `make test` (install what is missing, then run the tests).
VENV := .venv
ARGS ?=
PYTEST_ARGS ?=

.PHONY: setup setup-test run test bench

setup:
	bash deploy/setup-dev.sh

setup-test:
	bash deploy/setup-dev.sh --test

run: setup
	$(VENV)/bin/booth up $(ARGS)

test: setup-test
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

bench: setup-test
	$(VENV)/bin/python bench/run_all.py
