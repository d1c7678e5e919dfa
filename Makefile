# The two commands of the README: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: run test doctor install lint format bench messages clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# Serve the whole application with its Celery worker and beat, on SQLite and an embedded broker.
# The demo company's postal address (campaigns refuse to send without one) unless one is set.
run: export COMPANY_ADDRESS ?= Av. Insurgentes Sur 1234, Col. Del Valle, 03100 Ciudad de México
run: doctor
	mkdir -p var/mail var/broker/queue var/broker/processed var/broker/control
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py seed_demo --if-empty
	@echo ""
	@echo "  CRM: http://127.0.0.1:$(PORT)/   (usuarios de demostración arriba; correo enviado en var/mail/)"
	@echo ""
	PORT=$(PORT) $(VENV)/bin/honcho -f Procfile.dev start -p $(PORT)

# What the machine lacks (system packages), by name, before anything needs it.
doctor: $(STAMP)
	$(PY) -m crm.doctor

# Two passes: the transactional tests (live server, real workers) flush every table when they
# end, so they run after the rest, never before another test on the same xdist worker.
test: doctor
	$(PY) -m pytest -m "not transactional"
	$(PY) -m pytest -m transactional

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/djlint templates */templates crm/*/templates --lint
	$(VENV)/bin/lint-imports --no-cache

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The benchmark of DESIGN.md §4, on the database in DATABASE_URL (build the data once, reuse it).
bench: $(STAMP)
	$(PY) manage.py migrate --noinput -v0
	$(PY) -m bench

messages: $(STAMP)
	$(PY) manage.py makemessages -l es -l en --ignore=.venv --ignore=var --ignore=bench --no-obsolete --no-wrap
	$(PY) manage.py compilemessages --ignore=.venv -v0

clean:
	rm -rf $(VENV) var db.sqlite3
