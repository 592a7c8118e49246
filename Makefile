# Two commands do all set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501

.PHONY: run test install lint sample model bench audit lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv

# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set (as on some CI
# machines), every process would otherwise recompile every library it imports (~15 s each).
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	PAINCYCLE_ACCESS=local $(BIN)/streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT) \
	  --server.headless true --browser.gatherUsageStats false

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check .

sample: $(STAMP)
	$(BIN)/paincycle sample --patients 1000 --seed 7 --out sample_data/demo

model: $(STAMP)
	$(BIN)/paincycle train sample_data/demo --out models/demo.skops
	# the weekly model needs more patients than the demo has (4,000 synthetic, another seed)
	$(BIN)/paincycle sample --patients 4000 --seed 21 --out build/weekly-training
	$(BIN)/paincycle train build/weekly-training --weekly --synthetic --out models/demo-weekly.skops

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# Known vulnerabilities in the pinned versions (needs the package registry's advisory data).
audit: $(STAMP)
	$(BIN)/uv pip install --quiet --python $(BIN)/python pip-audit
	$(BIN)/pip-audit --requirement constraints.txt --no-deps --disable-pip --strict --progress-spinner off

# Re-pin constraints.txt to what is installed now (after changing pyproject.toml and testing).
lock: $(STAMP)
	(echo "# Tested versions: \`make\` installs with these as constraints. Refresh with \`make lock\`."; \
	 $(BIN)/uv pip freeze --python $(BIN)/python --exclude-editable | grep -vE '^(paincycle|pip|uv)==') > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache test-output
