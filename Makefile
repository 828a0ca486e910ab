PYTHON := .venv/bin/python

.PHONY: run test lint format bench

# Reinstalls whenever a requirements file is newer than the stamp.
.venv/.installed: requirements.txt requirements-dev.txt
	test -x $(PYTHON) || python3.11 -m venv .venv
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	touch $@

.venv: .venv/.installed

run: export DJANGO_DEBUG = 1
run: export PATH := $(CURDIR)/.venv/bin:$(PATH)
run: .venv
	python manage.py migrate
	python manage.py sync_model_versions
	python manage.py ensure_demo_user
	honcho start

test: .venv
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m pytest

lint: .venv
	$(PYTHON) -m ruff check .

format: .venv
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

bench: .venv
	PYTHONPATH=. $(PYTHON) bench/inference.py
