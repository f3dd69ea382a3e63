# Two commands: `make run` (set up + run the demo) and `make test` (set up + run the tests).
# Only python3 and make are assumed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true

.PHONY: run test install clean benchmarks

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

PORT ?= 8000

run: $(STAMP)  # the port is checked first: a busy one fails before the demo trains anything
	$(BIN)/equilearn demo-serve --host 127.0.0.1 --port $(PORT) --check-port
	$(BIN)/equilearn demo
	$(BIN)/equilearn demo-serve --host 127.0.0.1 --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

benchmarks: $(STAMP)
	$(BIN)/python -m experiments.make_benchmarks

clean:
	rm -rf $(VENV) .equilearn .pytest_cache
