PYTHON := .venv/bin/python

.PHONY: run test lint format bench

# Reinstalls whenever a requirements file is newer than the stamp.
.venv/.installed: requirements.txt requirements-dev.txt
	test -x $(PYTHON) || python3.11 -m venv .venv
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	touch $@

.venv: .venv/.installed

# Local settings of this checkout, read by manage.py, Celery and gunicorn (real
# environment variables win). Written once when missing, never overwritten.
KIDNEYWEB_ENV_FILE ?= .env
$(KIDNEYWEB_ENV_FILE):
	@echo "Writing $@: local settings of this checkout (debug on); edit it, make keeps it"
	@{ echo "# Written once by make run; real environment variables win over these."; \
	  echo "DJANGO_DEBUG=1"; \
	  echo "DJANGO_SECRET_KEY=$$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')"; \
	  echo "DATABASE_URL=sqlite:///$(CURDIR)/var/db.sqlite3"; \
	  echo "CELERY_BROKER_URL=filesystem://"; } > $@

run: export PATH := $(CURDIR)/.venv/bin:$(PATH)
run: export KIDNEYWEB_PORT ?= 8000
run: .venv $(KIDNEYWEB_ENV_FILE)
	python manage.py migrate
	python manage.py sync_model_versions
	python manage.py ensure_demo_user
	exec supervisord --configuration supervisord.conf

# One pytest worker per core (pytest-xdist), at most four: each loads TensorFlow and
# some train a small network. A test file runs whole on one worker, so a file's
# module-scoped fixtures (a trained network, a served stack) are built once. With the
# broker on Redis, one process: the workers would share one broker database.
PYTEST_WORKERS := $(if $(findstring redis,$(CELERY_BROKER_URL)),,--numprocesses=auto --maxprocesses=4 --dist=loadfile)
test: .venv
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m pytest $(PYTEST_WORKERS)

lint: .venv
	$(PYTHON) -m ruff check .

format: .venv
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

bench: .venv
	PYTHONPATH=. $(PYTHON) bench/inference.py
