# Glocal — the two commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/glocal
STAMP := $(VENV)/.installed

.PHONY: demo test audit test-sqlite test-postgres lint typecheck check browser-deps bench-deps bench bench-quick reliability reliability-quick messages clean serve worker

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

## demo: set up, migrate the embedded SQLite database, seed the demo network, serve on 127.0.0.1:$(PORT)
demo: $(STAMP)
	PORT=$(PORT) $(BIN)/glocal demo --port $(PORT)

serve: $(STAMP)
	$(BIN)/glocal serve --port $(PORT)

worker: $(STAMP)
	$(BIN)/glocal worker

## browser-deps: Debian's chromium for the browser tests (never a browser downloaded by Playwright) and
## poppler's pdftoppm, which the print tests use to look at a PDF's pixels
browser-deps:
	@if ! command -v chromium >/dev/null || ! command -v pdftoppm >/dev/null; then \
	  echo "Installing Debian's chromium and poppler-utils for the browser and print tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium poppler-utils >/dev/null; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy glocal config

check: $(STAMP)
	DJANGO_SETTINGS_MODULE=config.settings.production SECRET_KEY=$$(printf 'x%.0s' {1..60})-check \
	  ALLOWED_HOSTS=glocal.example GLOCAL_PUBLIC_URL=https://glocal.example GLOCAL_SENDER_DOMAIN=mail.glocal.example \
	  ANYMAIL_WEBHOOK_SECRET=check:webhook-secret-0123456789 GLOCAL_SMS_WEBHOOK_TOKEN=check-sms-token-0123456789 \
	  GLOCAL_BOUNCE_WEBHOOK_TOKEN=check-bounce-token-0123456789 \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING
	@echo "=== Every model change has its migration (makemigrations --check) ==="
	$(BIN)/python manage.py makemigrations --check --dry-run

test-sqlite: $(STAMP) browser-deps
	@echo "=== Test suite on SQLite ==="
	env -u DATABASE_URL $(BIN)/pytest -p no:cacheprovider

test-postgres: $(STAMP) browser-deps
	@echo "=== Test suite on PostgreSQL ==="
	DATABASE_URL=$${DATABASE_URL:-$(PG_URL)} $(BIN)/pytest -p no:cacheprovider

## test: set up, run the whole suite on SQLite, then on PostgreSQL when one is reachable
test: $(STAMP) browser-deps lint typecheck check audit
	@$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$$DATABASE_URL" ] || $(BIN)/python -c "import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(s.connect_ex(('127.0.0.1',5432)))"; then \
	  $(MAKE) --no-print-directory test-postgres && echo "POSTGRES RUN: passed" | tee .postgres-run; \
	else echo "POSTGRES RUN: skipped (no server on 127.0.0.1:5432 and no DATABASE_URL)" | tee .postgres-run; fi

## audit: the pinned dependencies (requirements.lock) against the known vulnerabilities of PyPI's advisory
## database (pip-audit; needs https://pypi.org/pypi/NAME/VERSION/json, or AUDIT_ARGS="-s osv" for
## api.osv.dev). A known vulnerability fails it: upgrade the pin, or ignore it with --ignore-vuln and the
## reason in docs/security.md. A package the service cannot look up is reported by name and count; with
## AUDIT_STRICT=1 (machines that reach the advisory database) that fails too.
AUDIT_ARGS ?=
AUDIT_STRICT ?=
audit: $(STAMP)
	@out=$$(mktemp); \
	if ! $(BIN)/pip-audit -r requirements.lock --no-deps --disable-pip --progress-spinner off $(AUDIT_ARGS) >"$$out" 2>&1; then \
	  cat "$$out"; rm -f "$$out"; echo "DEPENDENCY AUDIT: known vulnerabilities (or an audit failure) above"; exit 1; fi; \
	skipped=$$(grep -c "could not be audited" "$$out" || true); total=$$(grep -c "==" requirements.lock); \
	[ "$$skipped" -lt "$$total" ] && echo "DEPENDENCY AUDIT: no known vulnerability in the $$((total - skipped)) packages looked up"; \
	if [ "$$skipped" -gt 0 ]; then \
	  echo "DEPENDENCY AUDIT: $$skipped of $$total pinned packages could not be looked up (the advisory database is unreachable from here); they are NOT checked"; \
	  rm -f "$$out"; [ -z "$(AUDIT_STRICT)" ] || exit 1; else rm -f "$$out"; fi

## bench-deps: Debian's postfix for smtp-source / smtp-sink, the SMTP reference of D1 and D2
bench-deps:
	@if ! command -v smtp-sink >/dev/null && [ ! -x /usr/sbin/smtp-sink ]; then \
	  echo "Installing Debian's postfix (smtp-source, smtp-sink) for the SMTP benchmarks"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "postfix postfix/main_mailer_type select No configuration" | $$SUDO debconf-set-selections; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postfix >/dev/null; \
	fi

bench: $(STAMP) bench-deps
	$(BIN)/python -m bench $(if $(ID),--id $(ID),)

bench-quick: $(STAMP) bench-deps
	$(BIN)/python -m bench --quick $(if $(ID),--id $(ID),)

## reliability: kill -9 sending workers mid-campaign, count lost / duplicates (ARGS="--database postgres --faults")
reliability: $(STAMP)
	$(BIN)/python -m bench.reliability $(ARGS)

reliability-quick: $(STAMP)
	$(BIN)/python -m bench.reliability --quick $(ARGS)

## smoke-install: follow docs/deployment.md on this machine (PostgreSQL and Redis on loopback), end to end
.PHONY: smoke-install
smoke-install:
	bash deploy/smoke-install.sh

## backup-check: seed a fresh PostgreSQL database ($$DATABASE_URL's server, else $(PG_URL)), back it up,
## restore it into another fresh one and compare them table by table (ENGINE=sqlite: the same on SQLite)
.PHONY: backup-check
backup-check: $(STAMP)
	$(if $(filter sqlite,$(ENGINE)),env -u DATABASE_URL,DATABASE_URL=$${DATABASE_URL:-$(PG_URL)}) bash deploy/backup-roundtrip.sh

## messages: refresh the French catalogue after changing UI strings (needs gettext)
messages: $(STAMP)
	cd glocal && ../$(BIN)/django-admin makemessages -l fr --no-obsolete -i "*/tests/*" && ../$(BIN)/django-admin compilemessages

clean:
	rm -rf $(VENV) data .postgres-run
