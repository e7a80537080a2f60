# Two commands on a fresh clone: `make demo` and `make test`. Each creates or reuses .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean sysdeps

# Debian packages the test run uses: simulators and synthesis for the RTL tests (issue 6),
# Chromium for the report's browser test, Graphviz for `squall graph --svg`. Installed with
# apt-get when one is missing and we are root; otherwise the tests that need them skip and say so.
SYSTOOLS := iverilog verilator yosys chromium chromedriver dot
SYSPKGS := iverilog verilator yosys chromium chromium-driver graphviz

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch pinned: on these machines 2.13.0 is a local CPU wheel; anything else pulls CUDA builds
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[train,dev,profile,rtl,detect]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/squall demo --out demo-out

sysdeps:
	@missing=""; for t in $(SYSTOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages for:$$missing"; \
	    apt-get update -qq >/dev/null 2>&1 || echo "apt-get update failed; installing from the package lists already on this machine"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSPKGS) >/dev/null 2>&1 || \
	      for p in $(SYSPKGS); do DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$p >/dev/null 2>&1 || echo "could not install $$p"; done; \
	  fi; \
	  still=""; for t in $(SYSTOOLS); do command -v $$t >/dev/null 2>&1 || still="$$still $$t"; done; \
	  if [ -n "$$still" ]; then echo "not installed (the tests that need them skip and say so):$$still"; fi; \
	fi

# Two tiers: the fast tests first (a broken build fails within a few minutes), then the slow ones
# (the README's commands end to end, RTL simulation, the browser).
SLOW := slow or rtl or browser
# `make test` is what CI runs: the static checks (`lint`, seconds), then the fast tier, then the rest.
test: $(STAMP) sysdeps lint
	$(BIN)/python -m pytest -q -m "not ($(SLOW))"
	$(BIN)/python -m pytest -q -m "$(SLOW)"

# Static checks, the first thing CI runs: lint, formatting, types (strict where configured in
# pyproject.toml) and the import contract (layers point one way).
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engines.py

clean:
	rm -rf $(VENV) demo-out
