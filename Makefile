# Pingan: `make run` starts everything on the embedded default; `make test` is the whole suite.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DURATION ?=

BENCHES := pipeline modbus webhooks faces falling api face_search

.PHONY: run test bench $(addprefix bench-,$(BENCHES)) lint format prerequisites browser console stop clean

run: $(STAMP) console
	$(BIN)/pingan run $(if $(DURATION),--duration $(DURATION))

test: $(STAMP) browser console
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

# Every benchmark prints its figures next to a baseline measured in the same run and keeps a
# JSON copy in bench/results/; `make bench-faces` runs one. `make bench-api` loads a synthetic
# store once into .pingan/bench/ (reused by later runs of the same size) and reports API
# latency and whether API reads stall the pipeline (python -m bench.api --help for sizes).
bench: $(addprefix bench-,$(BENCHES))

$(addprefix bench-,$(BENCHES)): bench-%: $(STAMP)
	$(BIN)/python -m bench.$*

# Faults and hostile input on the real local stack (fuzzed messages and webhooks, kill -9 of
# the worker, a frozen broker, failing inserts, slow subscribers): prints what was stored,
# dead-lettered and lost, keeps bench/results/chaos.json. Sizes: CHAOS_ARGS="--messages 2000"
# (python -m bench.chaos --help); the full counts take about an hour on two cores.
CHAOS_ARGS ?=

.PHONY: chaos
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

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

# The console's browser tests drive Debian's chromium (Playwright's own download does not work
# here); installed with apt-get when absent, as root or through passwordless sudo.
CHROMIUM := /usr/bin/chromium
BROWSER_PACKAGES := chromium fonts-wqy-zenhei

browser:
	@[ -x $(CHROMIUM) ] || { \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; \
	  elif sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	  else echo "The browser tests need chromium: run 'sudo apt-get install chromium' (or make test as root)"; exit 2; fi; \
	  echo "Installing chromium for the browser tests (apt-get install $(BROWSER_PACKAGES))..."; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$sudo apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES) >/dev/null 2>&1 \
	  || { $$sudo apt-get update -qq && $$sudo apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES) >/dev/null; } \
	  || { echo "Could not install chromium for the browser tests: run 'apt-get install chromium' and make test again"; exit 2; }; \
	}

# The police console's local GraphiQL and React (dashboards/console/vendor/, not committed):
# rebuilt only when the lockfile or the copy script changes.
CONSOLE := dashboards/console
CONSOLE_BUILT := $(CONSOLE)/vendor/manifest.json

console: $(CONSOLE_BUILT)

$(CONSOLE_BUILT): $(CONSOLE)/package-lock.json $(CONSOLE)/build.mjs
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { echo "The police console's build needs Node.js 20 or newer and npm: install them (e.g. 'apt-get install nodejs npm')"; exit 2; }
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)' || { echo "The police console's build needs Node.js 20 or newer, found $$(node --version)"; exit 2; }
	@echo "Building the police console's local assets (npm ci in $(CONSOLE))..."
	npm ci --prefix $(CONSOLE) --no-audit --no-fund --ignore-scripts
	node $(CONSOLE)/build.mjs

prerequisites:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Pingan needs Python 3.11: install it (e.g. 'apt-get install python3.11 python3.11-venv' or pyenv) or run make PYTHON=/path/to/python3.11"; exit 2; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "Pingan needs Python 3.11, but $(PYTHON) is $$($(PYTHON) --version 2>&1): run make PYTHON=/path/to/python3.11"; exit 2; }
	@[ -n "$$KAFKA_BOOTSTRAP" ] || command -v java >/dev/null 2>&1 || { echo "Pingan needs Java 17 or newer for the local Kafka broker: install it (e.g. 'apt-get install openjdk-17-jre-headless'), or set KAFKA_BOOTSTRAP to an existing cluster"; exit 2; }
	@[ -n "$$KAFKA_BOOTSTRAP" ] || java -version 2>&1 | head -1 | grep -Eq '"(1[7-9]|[2-9][0-9])' || { echo "Pingan needs Java 17 or newer, found: $$(java -version 2>&1 | head -1)"; exit 2; }
	@[ -n "$$KAFKA_BOOTSTRAP" ] || command -v mvn >/dev/null 2>&1 || { echo "Pingan needs Maven to fetch the Kafka jars: install it (e.g. 'apt-get install maven'), or set KAFKA_BOOTSTRAP to an existing cluster"; exit 2; }

# Installs exactly what pylock.toml pins (versions and hashes, as tested), then Pingan itself.
# pip is pinned too: installing from a pylock.toml (PEP 751) is still experimental in pip.
PIP_VERSION := 26.3

$(STAMP): pyproject.toml pylock.toml | prerequisites
	@echo "Installing Python packages from pylock.toml into $(VENV)/ (a few minutes on the first run)..."
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check pip==$(PIP_VERSION)
	$(BIN)/pip install --disable-pip-version-check --progress-bar on -r pylock.toml
	@$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e . > $(VENV)/pingan-install.log 2>&1 \
	  || { cat $(VENV)/pingan-install.log; exit 1; }
	@touch $(STAMP)

# After adding or changing a dependency in pyproject.toml: installs what is missing (the newest
# within pyproject's ranges, keeping what is installed), then pins this venv into pylock.toml
# (Pingan itself stays out: an editable install has no file to hash).
.PHONY: lock
lock: $(STAMP)
	$(BIN)/pip install --disable-pip-version-check --progress-bar on -e '.[dev]'
	$(BIN)/pip freeze --exclude-editable > $(VENV)/installed.txt
	$(BIN)/pip lock --quiet --disable-pip-version-check -r $(VENV)/installed.txt --output - > $(VENV)/pylock.toml
	mv $(VENV)/pylock.toml pylock.toml
	@touch $(STAMP)
