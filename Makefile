# Quick start:  make demo   (set up, index this repository, search it)
#               make test   (set up, run the whole test suite)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
QUERY ?= where is a secret such as an API key detected before a file is indexed
# torch first, so that the project's `torch>=2.4` is already met. pip takes torch==2.13.0 from a
# local CPU wheel where one lies on disk (as on this project's CI machines); elsewhere it comes
# from PyPI, whose Linux wheel is the CUDA build (several GB; it runs on a CPU too). CPU-only
# machines: make install TORCH_INDEX=https://download.pytorch.org/whl/cpu (the CPU build).
TORCH ?= torch==2.13.0
TORCH_INDEX ?=

.PHONY: install adapters demo test release-check bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

install: $(BIN)/.installed

# langchain-mcp-adapters pins mcp<2, so it gets its own virtualenv; tests/test_examples.py runs
# examples/langchain_adapters_client.py with it against this project's server.
ADAPTERS ?= .venv-adapters
$(ADAPTERS)/.installed: examples/requirements-adapters.txt
	$(PYTHON) -m venv $(ADAPTERS)
	$(ADAPTERS)/bin/python -m pip install -q -r examples/requirements-adapters.txt
	touch $@

adapters: $(ADAPTERS)/.installed

demo: install
	$(BIN)/groundmcp ingest . --collection groundmcp
	$(BIN)/groundmcp search "$(QUERY)" --collection groundmcp --top-k 5
	@echo
	@echo "Search more:  $(BIN)/groundmcp search 'your question' -c groundmcp"

# Two workers, each taking a whole test file at a time: most tests wait on processes they start
# (servers, owners, CLIs), so the suite takes about 10 minutes instead of 14 to 16 on two cores.
test: install adapters
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# Build the sdist and wheel, check them (twine, check-wheel-contents), install the wheel into a
# fresh virtualenv outside the checkout and run doctor, ingest, search and the server from it.
release-check:
	PYTHON=$(PYTHON) scripts/check_release.sh

clean:
	rm -rf $(VENV) $(ADAPTERS) .pytest_cache
