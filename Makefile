# Two commands set everything up on a fresh machine:
#   make demo   install, regenerate release/, autograde the bundled example submissions, print the grades
#   make test   install, run every test in grader_tests/ (what CI runs)
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)

.PHONY: demo test release setup clean

demo: setup
	$(BIN)/python -m coursekit demo

test: setup
	$(BIN)/python -m pytest

release: setup
	$(BIN)/python -m coursekit release

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

clean:
	rm -rf $(VENV) submitted/ feedback/ gradebook.db
	find autograded -mindepth 1 ! -name README.md -exec rm -rf {} +
