# Pingan: `make run` starts everything on the embedded default; `make test` is the whole suite.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DURATION ?=

BENCHES := pipeline modbus webhooks faces falling api face_search

.PHONY: run test bench $(addprefix bench-,$(BENCHES)) lint format prerequisites stop clean

run: $(STAMP)
	$(BIN)/pingan run $(if $(DURATION),--duration $(DURATION))

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

# Every benchmark prints its figures next to a baseline measured in the same run and keeps a
# JSON copy in bench/results/; `make bench-faces` runs one. `make bench-api` loads a synthetic
# store once into .pingan/bench/ (reused by later runs of the same size) and reports API
# latency and whether API reads stall the pipeline (python -m bench.api --help for sizes).
bench: $(addprefix bench-,$(BENCHES))

$(addprefix bench-,$(BENCHES)): bench-%: $(STAMP)
	$(BIN)/python -m bench.$*

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

stop: $(STAMP)
	$(BIN)/pingan stack down

clean: stop
	rm -rf .pingan

prerequisites:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Pingan needs Python 3.11: install it (e.g. 'apt-get install python3.11 python3.11-venv' or pyenv) or run make PYTHON=/path/to/python3.11"; exit 2; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "Pingan needs Python 3.11, but $(PYTHON) is $$($(PYTHON) --version 2>&1): run make PYTHON=/path/to/python3.11"; exit 2; }
	@[ -n "$$KAFKA_BOOTSTRAP" ] || command -v java >/dev/null 2>&1 || { echo "Pingan needs Java 17 or newer for the local Kafka broker: install it (e.g. 'apt-get install openjdk-17-jre-headless'), or set KAFKA_BOOTSTRAP to an existing cluster"; exit 2; }
	@[ -n "$$KAFKA_BOOTSTRAP" ] || java -version 2>&1 | head -1 | grep -Eq '"(1[7-9]|[2-9][0-9])' || { echo "Pingan needs Java 17 or newer, found: $$(java -version 2>&1 | head -1)"; exit 2; }
	@[ -n "$$KAFKA_BOOTSTRAP" ] || command -v mvn >/dev/null 2>&1 || { echo "Pingan needs Maven to fetch the Kafka jars: install it (e.g. 'apt-get install maven'), or set KAFKA_BOOTSTRAP to an existing cluster"; exit 2; }

$(STAMP): pyproject.toml | prerequisites
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)
