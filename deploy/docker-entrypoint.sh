#!/usr/bin/env bash
# The container's entrypoint (deploy/Dockerfile).
#   web          apply migrations (GLOCAL_MIGRATE=0 skips them), then serve with gunicorn on GLOCAL_BIND
#   worker [Q]   a Celery worker on queue(s) Q (default: celery, the queue every Glocal task uses)
#   beat         the Celery beat (delivery tick): exactly one in the installation
#   healthcheck  exit 0 when /healthz answers 200 (the image's HEALTHCHECK)
#   anything else is a `glocal` command: migrate, createsuperuser, check, seed, shell…
set -euo pipefail

case "${1:-web}" in
  web)
    if [[ ${GLOCAL_MIGRATE:-1} != 0 ]]; then
      glocal migrate --noinput
    fi
    # gunicorn's processes add up their metrics in a directory emptied at each start (docs/operations.md).
    export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-/dev/shm/glocal-metrics}
    rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    exec gunicorn config.wsgi:application --bind "${GLOCAL_BIND:-0.0.0.0:8000}" \
      --threads "${GUNICORN_THREADS:-4}" --timeout "${GUNICORN_TIMEOUT:-60}" --graceful-timeout 30 \
      --access-logfile - --worker-tmp-dir /dev/shm --no-control-socket
    ;;
  worker)
    exec celery --app config.celery worker --queues "${2:-celery}" --hostname "${2:-celery}@%h" \
      --concurrency "${WORKER_CONCURRENCY:-2}" --loglevel "${LOG_LEVEL:-INFO}" --without-mingle
    ;;
  beat)
    exec celery --app config.celery beat --schedule "${GLOCAL_DATA_DIR:-/var/lib/glocal}/celerybeat-schedule" \
      --loglevel "${LOG_LEVEL:-INFO}"
    ;;
  healthcheck)
    # Through the public host name and as if over https (the production settings redirect plain http).
    exec python - <<'PY'
import os, sys, urllib.parse, urllib.request
host = urllib.parse.urlsplit(os.environ.get("GLOCAL_PUBLIC_URL", "")).hostname or "localhost"
port = os.environ.get("GLOCAL_BIND", "0.0.0.0:8000").rsplit(":", 1)[-1]
request = urllib.request.Request(
    f"http://127.0.0.1:{port}/healthz", headers={"Host": host, "X-Forwarded-Proto": "https"}
)
try:
    sys.exit(0 if urllib.request.urlopen(request, timeout=4).status == 200 else 1)
except Exception as exc:
    print(exc, file=sys.stderr)
    sys.exit(1)
PY
    ;;
  *)
    exec glocal "$@"
    ;;
esac
