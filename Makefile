# The two commands of the README: `make serve` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8765

.PHONY: serve test install install-test bench quality extension clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The stamp files make the install happen again only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

serve: install
	$(BIN)/papershelf serve --port $(PORT)

test: install-test
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

quality: install
	HF_HUB_OFFLINE=1 $(BIN)/python bench/quality.py

bench: install
	HF_HUB_OFFLINE=1 $(BIN)/python bench/lookup.py

extension:
	$(PYTHON) extension/package.py dist

clean:
	rm -rf $(VENV) build dist *.egg-info server/*.egg-info
