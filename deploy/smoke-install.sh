#!/usr/bin/env bash
# Acceptance test of docs/deployment.md on this machine (`make smoke-install`): a fresh installation with
# PostgreSQL and Redis on loopback, run the way the documentation and deploy/ run it.
#
#  1. a fresh database glocal_smoke (PostgreSQL on 127.0.0.1:5432, trust auth for "postgres") and a
#     private Redis (redis-server on a free loopback port, so no other user of this machine's Redis is
#     touched);
#  2. a fresh virtualenv in a temporary directory, from requirements.lock (as docs/deployment.md says);
#  3. an environment file made from deploy/glocal.env.example with production settings
#     (config.settings.production, a random SECRET_KEY, GLOCAL_PUBLIC_URL=https://glocal.example…);
#  4. `glocal-manage migrate` and `collectstatic` through deploy/glocal-manage;
#  5. gunicorn, the Celery worker and the beat started with the ExecStart lines of deploy/systemd/;
#  6. the login page answers 200 (Host: glocal.example, X-Forwarded-Proto: https), directly and, when
#     nginx is installed, through deploy/nginx/glocal.conf over TLS (static files from disk);
#  7. `glocal check` passes;
#  8. `glocal seed` makes a small network whose due campaign the worker sends to a local SMTP sink
#     (aiosmtpd, into a Maildir): every message marked sent must be in the sink;
#  9. the SMS and bounce webhooks answer 2xx with the right bearer token and 403 with a wrong one.
# Everything is removed at the end (database, Redis, processes, temporary directory).
#
# Environment: SMOKE_REF=<commit> installs that commit (`git archive`) instead of the working tree's files
# (tracked and new ones), SMOKE_PG (default postgres://postgres@127.0.0.1:5432), SMOKE_KEEP=1 keeps the
# temporary directory, PYTHON (default python3.11).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3.11}
PG=${SMOKE_PG:-postgres://postgres@127.0.0.1:5432}
DB=glocal_smoke
HOST=glocal.example
WORK=$(mktemp -d /tmp/glocal-smoke.XXXXXX)
chmod 0711 "$WORK" # nginx's workers (another user) reach the static files, and nothing else, inside
PIDS=()

say() { printf '\n=== %s\n' "$*"; }
fail() {
  printf '\nSMOKE INSTALL FAILED: %s\n' "$*" >&2
  for log in "$WORK"/*.log; do
    [[ -f $log ]] && { printf -- '--- last lines of %s\n' "$log" >&2; tail -n 25 "$log" >&2; }
  done
  exit 1
}
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start() { # start LOG CMD…: a background process whose pid is stopped at the end
  local log=$1
  shift
  "$@" >"$WORK/$log.log" 2>&1 &
  PIDS+=("$!")
}
cleanup() {
  local status=$?
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill "${PIDS[i]}" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  # Bounded: a DROP DATABASE waits for every backend of the server (another user's stuck COPY stalls it).
  PGOPTIONS='-c statement_timeout=120s' psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" \
    >/dev/null 2>&1 || echo "note: the database $DB could not be dropped within 2 minutes; drop it later" >&2
  if [[ ${SMOKE_KEEP:-0} = 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
wait_for() { # wait_for SECONDS DESCRIPTION CMD…: poll CMD until it succeeds
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "timed out waiting for $what"
    sleep 0.5
  done
}
# The command line of a systemd unit (deploy/systemd/), with this installation's paths and instance.
unit_command() {
  local unit=$1 instance=${2:-}
  sed -n '/^ExecStart=/,/[^\\]$/p' "$APP/deploy/systemd/$unit" | sed 's/^ExecStart=//; s/\\$//' | tr '\n' ' ' |
    sed "s#/opt/glocal/venv#$VENV#g; s#/var/lib/glocal#$DATA#g; s#/run/glocal#$WORK/run#g; s#%i#$instance#g; s#%%#%#g"
}
run_unit() { # run_unit LOG UNIT [INSTANCE]: as systemd would, with the environment file and the unit's defaults
  local log=$1 unit=$2 instance=${3:-} defaults
  defaults=$(sed -n 's/^Environment=//p' "$APP/deploy/systemd/$unit" | sed "s#/run/glocal#$WORK/run#g")
  # shellcheck disable=SC2086 # the unit's defaults are KEY=value words; its command line is word-split
  start "$log" env $defaults bash -c "$(env_exports) cd '$APP'; exec $(unit_command "$unit" "$instance")"
}
env_exports() { # the environment file as shell exports (values quoted)
  while IFS= read -r line; do
    [[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] && printf 'export %s=%q; ' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
  done <"$ENV_FILE"
}
manage() { GLOCAL_ENV_FILE=$ENV_FILE GLOCAL_VENV=$VENV GLOCAL_APP=$APP GLOCAL_USER=$(id -un) "$APP/deploy/glocal-manage" "$@"; }
http_code() { # http_code URL [curl args…]: the status of a request as if through the TLS proxy
  local url=$1
  shift
  curl -s -o "$WORK/last-response" -w '%{http_code}' -H "Host: ${REQ_HOST:-$HOST}" \
    -H "X-Forwarded-Proto: ${REQ_PROTO:-https}" "$@" "$url"
}
expect_code() { # expect_code WANTED DESCRIPTION URL [curl args…]
  local wanted=$1 what=$2 code
  shift 2
  code=$(http_code "$@")
  [[ $code =~ ^($wanted)$ ]] || fail "$what answered $code (wanted $wanted): $(head -c 300 "$WORK/last-response")"
  echo "ok: $what → $code"
}

say "Prerequisites"
for tool in psql curl redis-server "$PYTHON"; do
  command -v "$tool" >/dev/null || fail "$tool is missing (docs/deployment.md, step 1)"
done
psql "$PG/postgres" -q -c 'SELECT 1' >/dev/null || fail "PostgreSQL is not reachable at $PG"

say "1. Database $DB and a private Redis"
psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
REDIS_PORT=$(free_port)
start redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK"
wait_for 20 "redis" redis-cli -p "$REDIS_PORT" ping

say "2. The code in a fresh directory, a fresh virtualenv from requirements.lock"
APP=$WORK/app
mkdir -p "$APP"
if [[ -n ${SMOKE_REF:-} ]]; then
  git -C "$REPO" archive "$SMOKE_REF" | tar -x -C "$APP"
  echo "code: $(git -C "$REPO" rev-parse --short "$SMOKE_REF")"
else
  (cd "$REPO" && git ls-files -z --cached --others --exclude-standard |
    tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -x -C "$APP"
  echo "code: the working tree of $REPO"
fi
VENV=$WORK/venv
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet "uv==0.13.9" 2>&1 | grep -v "^WARNING: Location" || true
"$VENV/bin/uv" pip sync --quiet --python "$VENV/bin/python" "$APP/requirements.lock"
"$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" --no-deps -e "$APP"
"$VENV/bin/glocal" --help >/dev/null

say "3. The environment file (from deploy/glocal.env.example)"
DATA=$WORK/data
STATIC=$WORK/static
install -d -m 0750 "$DATA"
install -d -m 0755 "$STATIC"
ENV_FILE=$WORK/glocal.env
SMTP_PORT=$(free_port)
WEB_PORT=$(free_port)
SMS_TOKEN=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))')
BOUNCE_TOKEN=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))')
declare -A SETTINGS=(
  [SECRET_KEY]=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(64))')
  [GLOCAL_PUBLIC_URL]=https://$HOST
  [GLOCAL_DATA_DIR]=$DATA
  [GLOCAL_STATIC_ROOT]=$STATIC
  [DATABASE_URL]=$PG/$DB
  [REDIS_URL]=redis://127.0.0.1:$REDIS_PORT/1
  [CELERY_BROKER_URL]=redis://127.0.0.1:$REDIS_PORT/0
  [EMAIL_HOST]=127.0.0.1
  [EMAIL_PORT]=$SMTP_PORT
  [GLOCAL_SMS_WEBHOOK_TOKEN]=$SMS_TOKEN
  [GLOCAL_BOUNCE_WEBHOOK_TOKEN]=$BOUNCE_TOKEN
  [ANYMAIL_WEBHOOK_SECRET]=glocal:$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))')
  [GLOCAL_BIND]=127.0.0.1:$WEB_PORT
  [GLOCAL_METRICS_TOKEN]=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))')
  [WEB_CONCURRENCY]=2
  [WORKER_CONCURRENCY]=2
)
# The example, with each value above put in place of the example's (commented or not).
while IFS= read -r line; do
  if [[ $line =~ ^#?([A-Za-z_][A-Za-z0-9_]*)= ]] && [[ -v SETTINGS[${BASH_REMATCH[1]}] ]]; then
    key=${BASH_REMATCH[1]}
    printf '%s=%s\n' "$key" "${SETTINGS[$key]}"
    unset "SETTINGS[$key]"
  else
    printf '%s\n' "$line"
  fi
done <"$APP/deploy/glocal.env.example" >"$ENV_FILE"
((${#SETTINGS[@]} == 0)) || fail "deploy/glocal.env.example does not name: ${!SETTINGS[*]}"
chmod 0640 "$ENV_FILE"
grep -q '^DJANGO_SETTINGS_MODULE=config.settings.production$' "$ENV_FILE" || fail "the example is not production"

say "4. Migrate and collect the static files (deploy/glocal-manage)"
manage migrate --noinput >"$WORK/migrate.log" 2>&1 || fail "migrate failed"
manage collectstatic --noinput --verbosity 0 >"$WORK/collectstatic.log" 2>&1 || fail "collectstatic failed"

say "5. SMTP sink, web, worker and beat (the systemd units' command lines)"
install -d -m 0750 "$WORK/run" "$WORK/run/metrics" # systemd's RuntimeDirectory= of glocal-web.service
start smtp-sink "$VENV/bin/python" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$WORK/maildir"
run_unit web glocal-web.service
run_unit worker glocal-worker@.service celery
run_unit beat glocal-beat.service
wait_for 60 "gunicorn on 127.0.0.1:$WEB_PORT" curl -sf -o /dev/null -H "Host: $HOST" -H 'X-Forwarded-Proto: https' \
  "http://127.0.0.1:$WEB_PORT/healthz"

say "6. The login page"
expect_code 200 "GET /accounts/login/" "http://127.0.0.1:$WEB_PORT/accounts/login/"
grep -q 'name="username"' "$WORK/last-response" || fail "the login page has no username field"
REQ_PROTO=http expect_code 301 "plain http (redirected to https)" "http://127.0.0.1:$WEB_PORT/accounts/login/"
REQ_HOST=evil.example expect_code 400 "an unknown Host" "http://127.0.0.1:$WEB_PORT/accounts/login/"
if command -v nginx >/dev/null; then
  TLS_PORT=$(free_port)
  HTTP_PORT=$(free_port)
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=$HOST" -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
  sed -e "s#listen 443 ssl http2;#listen 127.0.0.1:$TLS_PORT ssl http2;#; /listen \[::\]/d; s#listen 80;#listen 127.0.0.1:$HTTP_PORT;#" \
    -e "s#server 127.0.0.1:8000 #server 127.0.0.1:$WEB_PORT #; s#/etc/letsencrypt/live/$HOST/fullchain.pem#$WORK/tls.crt#" \
    -e "s#/etc/letsencrypt/live/$HOST/privkey.pem#$WORK/tls.key#; s#/opt/glocal/static/#$STATIC/#; s#/var/log/nginx/#$WORK/nginx-#" \
    "$APP/deploy/nginx/glocal.conf" >"$WORK/nginx-site.conf"
  cat >"$WORK/nginx.conf" <<EOF
pid $WORK/nginx.pid;
error_log $WORK/nginx-main.log;
daemon off;
events {}
http {
  include /etc/nginx/mime.types;
  client_body_temp_path $WORK/nginx-tmp; proxy_temp_path $WORK/nginx-tmp;
  fastcgi_temp_path $WORK/nginx-tmp; uwsgi_temp_path $WORK/nginx-tmp; scgi_temp_path $WORK/nginx-tmp;
  include $WORK/nginx-site.conf;
}
EOF
  install -d -m 1777 "$WORK/nginx-tmp"
  nginx -t -q -c "$WORK/nginx.conf" -p "$WORK" || fail "nginx refuses deploy/nginx/glocal.conf"
  start nginx nginx -c "$WORK/nginx.conf" -p "$WORK"
  RESOLVE=(--resolve "$HOST:$TLS_PORT:127.0.0.1" --cacert "$WORK/tls.crt")
  wait_for 20 "nginx" curl -s -o /dev/null "${RESOLVE[@]}" "https://$HOST:$TLS_PORT/"
  code=$(curl -s -o /dev/null -w '%{http_code}' "${RESOLVE[@]}" "https://$HOST:$TLS_PORT/accounts/login/")
  [[ $code = 200 ]] || fail "the login page through nginx answered $code"
  echo "ok: GET https://$HOST/accounts/login/ through nginx → 200"
  css=$(grep -o '/static/[^"]*\.css' "$WORK/last-response" | sed -n 1p)
  [[ -n $css ]] || fail "the login page names no stylesheet"
  code=$(curl -s -o /dev/null -w '%{http_code}' "${RESOLVE[@]}" "https://$HOST:$TLS_PORT$css")
  [[ $code = 200 ]] || fail "$css through nginx answered $code"
  echo "ok: $css served by nginx from disk → 200"
  code=$(curl -s -o /dev/null -w '%{http_code}' --resolve "$HOST:$HTTP_PORT:127.0.0.1" "http://$HOST:$HTTP_PORT/accounts/login/")
  [[ $code = 301 ]] || fail "plain http through nginx answered $code"
else
  echo "note: nginx is not installed; deploy/nginx/glocal.conf was not exercised (apt-get install nginx)"
fi

PATH=$VENV/bin:$PATH GLOCAL_PUBLIC_URL=https://$HOST GLOCAL_BIND=127.0.0.1:$WEB_PORT \
  bash "$APP/deploy/docker-entrypoint.sh" healthcheck || fail "the image's healthcheck (deploy/docker-entrypoint.sh) failed"
echo "ok: the container image's healthcheck command"
metrics_token=$(sed -n 's/^GLOCAL_METRICS_TOKEN=//p' "$ENV_FILE")
expect_code 200 "GET /metrics with its token" "http://127.0.0.1:$WEB_PORT/metrics" -H "Authorization: Bearer $metrics_token"
grep -q '^glocal_http_request_duration_seconds_count' "$WORK/last-response" ||
  fail "/metrics has no request latency histogram (PROMETHEUS_MULTIPROC_DIR of glocal-web.service)"

say "7. glocal check"
if manage check --help 2>/dev/null | grep -qi -e broker -e connectivity; then
  manage check || fail "glocal check failed"
else
  echo "note: this \`glocal check\` is Django's system check only (the connectivity checks are not there yet)"
  manage check --deploy --fail-level WARNING || fail "glocal check --deploy failed"
fi

say "8. Seed a small network; the worker sends its due campaign to the SMTP sink"
manage seed --stores 3 --contacts 300 >"$WORK/seed.log" 2>&1 || fail "seed failed"
grep -m1 "^Seeded" "$WORK/seed.log" || fail "seed printed no summary"
count_messages() {
  manage shell --no-imports -c "
from django.db.models import Count
from glocal.delivery.models import Message
print(' '.join(f\"{r['status']}={r['n']}\" for r in Message.unscoped.values('status').annotate(n=Count('id')).order_by('status')))" | tail -n 1
}
sent_all() {
  local counts
  counts=$(count_messages)
  echo "$counts" >"$WORK/counts"
  [[ $counts =~ sent= ]] && ! [[ $counts =~ (queued|sending)= ]]
}
wait_for 180 "the campaign to be sent (messages: $(cat "$WORK/counts" 2>/dev/null))" sent_all
counts=$(cat "$WORK/counts")
sent=$(grep -o 'sent=[0-9]*' <<<"$counts" | cut -d= -f2)
# The sink also receives account mail (the seeded approvals notify people): campaign mail is what
# carries a List-Unsubscribe header.
received=$(find "$WORK/maildir/new" "$WORK/maildir/cur" -type f 2>/dev/null | wc -l)
campaign=$(grep -l -r '^List-Unsubscribe:' "$WORK/maildir/new" "$WORK/maildir/cur" 2>/dev/null | wc -l)
echo "messages: $counts; in the SMTP sink: $campaign campaign messages, $((received - campaign)) other mail"
((sent > 0)) || fail "nothing was sent"
((campaign == sent)) || fail "$sent messages marked sent but $campaign campaign messages in the sink"
grep -q "^List-Unsubscribe:.*https://$HOST/" "$(grep -l -r '^List-Unsubscribe:' "$WORK/maildir/new" | sed -n 1p)" ||
  fail "a received message has no List-Unsubscribe link to https://$HOST/"
echo "ok: $sent messages sent by the Celery worker and received by the sink"

say "9. Provider webhooks"
HOOKS=http://127.0.0.1:$WEB_PORT/hooks
RECEIPT='{"id": "smoke-unknown-id", "status": "delivered"}'
expect_code '2[0-9][0-9]' "SMS receipt, right token" "$HOOKS/sms/json/receipt/" -X POST \
  -H "Authorization: Bearer $SMS_TOKEN" -H 'Content-Type: application/json' --data "$RECEIPT"
expect_code '401|403' "SMS receipt, wrong token" "$HOOKS/sms/json/receipt/" -X POST \
  -H "Authorization: Bearer wrong-$SMS_TOKEN" -H 'Content-Type: application/json' --data "$RECEIPT"
expect_code '2[0-9][0-9]' "inbound SMS, right token" "$HOOKS/sms/json/inbound/" -X POST \
  -H "Authorization: Bearer $SMS_TOKEN" -H 'Content-Type: application/json' --data '{"from": "+33600000000", "text": "hello"}'
# A bounce of one received campaign message: its recipient and its Message-ID (how Glocal finds it).
bounced=$(grep -l -r '^List-Unsubscribe:' "$WORK/maildir/new" | sed -n 1p)
recipient=$(grep -h -m1 '^To:' "$bounced" | sed 's/^To: *//; s/.*<//; s/>.*//')
message_id=$(grep -h -i -m1 '^Message-ID:' "$bounced" | sed 's/^[^:]*: *//')
[[ -n $recipient && -n $message_id ]] || fail "no recipient or Message-ID in $bounced"
cat >"$WORK/dsn.eml" <<EOF
From: MAILER-DAEMON@mx.example
To: bounces@mail.glocal.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

The message could not be delivered.
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example

Final-Recipient: rfc822; $recipient
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown
--b
Content-Type: text/rfc822-headers

From: shop@mail.glocal.example
To: $recipient
Message-ID: $message_id
--b--
EOF
expect_code '2[0-9][0-9]' "bounce report, right token" "$HOOKS/email/bounce/" -X POST \
  -H "Authorization: Bearer $BOUNCE_TOKEN" -H 'Content-Type: message/rfc822' --data-binary "@$WORK/dsn.eml"
grep -q '"matched": true' "$WORK/last-response" || fail "the bounce did not find its message: $(cat "$WORK/last-response")"
echo "   $(cat "$WORK/last-response")"
expect_code '401|403' "bounce report, wrong token" "$HOOKS/email/bounce/" -X POST \
  -H "Authorization: Bearer wrong-$BOUNCE_TOKEN" -H 'Content-Type: message/rfc822' --data-binary "@$WORK/dsn.eml"
expect_code '401|403' "bounce report, no token" "$HOOKS/email/bounce/" -X POST \
  -H 'Content-Type: message/rfc822' --data-binary "@$WORK/dsn.eml"

say "SMOKE INSTALL PASSED"
