# Quick start:  make demo   (set up, index this repository, search it)
#               make test   (set up, run the whole test suite)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
QUERY ?= how are changed files re-ingested incrementally

.PHONY: install adapters demo test bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build of torch that lies on local disk; GPU users: see README ("GPU").
	$(BIN)/python -m pip install -q torch==2.13.0
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

test: install adapters
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) $(ADAPTERS) .pytest_cache
