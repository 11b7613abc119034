#!/usr/bin/env bash
# Proof that a backup restores to the same data: seed → back up → restore elsewhere → compare.
#
#   deploy/backup-roundtrip.sh            (make backup-check)
#
# Engine: PostgreSQL when DATABASE_URL names one (its server is used to create two fresh databases,
# <name>_rt<id>_src and <name>_rt<id>_dst, dropped at the end), else SQLite (two fresh files).
# Steps: migrate the source, seed a small network (`glocal seed`), add media files, deploy/backup.sh,
# deploy/restore.sh into the second database and a second media directory, then compare every table of
# the schema (row count and an order-independent digest of its rows), every sequence and every media
# file, one line each; any difference fails. Last, one restored row is changed and the comparison must
# then fail: the check can see a difference. ROUNDTRIP_STORES / ROUNDTRIP_CONTACTS size the network
# (3 / 60); ROUNDTRIP_KEEP=1 keeps the work directory and databases for inspection.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=python3
[[ -x "$ROOT/.venv/bin/python" ]] && PY="$ROOT/.venv/bin/python"
manage() { "$PY" "$ROOT/manage.py" "$@"; }
say() { printf '\n== %s\n' "$*"; }

# A self-contained run: the local settings (media on disk), no broker, the paths below only.
export DJANGO_SETTINGS_MODULE=config.settings.local
unset GLOCAL_SQLITE_PATH GLOCAL_MEDIA_ROOT GLOCAL_STATIC_ROOT GLOCAL_MEDIA_S3_BUCKET CELERY_BROKER_URL \
  GLOCAL_MANAGE GLOCAL_ENV_FILE
stores=${ROUNDTRIP_STORES:-3}
contacts=${ROUNDTRIP_CONTACTS:-60}
work=$(mktemp -d "${TMPDIR:-/tmp}/glocal-roundtrip.XXXXXX")
run_id="$$_${RANDOM}"
base_url=${DATABASE_URL:-}
src_url="" dst_url="" admin_url=""

case "$base_url" in
  postgres://* | postgresql://*)
    engine=postgresql
    query=""
    [[ "$base_url" == *\?* ]] && query="?${base_url#*\?}"
    server=${base_url%%\?*}
    server=${server%/*}
    base_name=${base_url%%\?*}
    base_name=${base_name##*/}
    admin_url="$server/postgres$query"
    src_db="${base_name}_rt${run_id}_src"
    dst_db="${base_name}_rt${run_id}_dst"
    src_url="$server/$src_db$query"
    dst_url="$server/$dst_db$query"
    ;;
  "") engine=sqlite ;;
  *)
    echo "DATABASE_URL must be a postgres:// URL, or unset for SQLite" >&2
    exit 64
    ;;
esac

cleanup() {
  local rc=$?
  if [[ "${ROUNDTRIP_KEEP:-0}" == 1 ]]; then
    echo "kept: $work ${src_url:+$src_url $dst_url}"
  else
    if [[ $engine == postgresql ]]; then
      psql --no-psqlrc --quiet "$admin_url" -c "DROP DATABASE IF EXISTS \"$src_db\"" \
        -c "DROP DATABASE IF EXISTS \"$dst_db\"" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT

# side src|dst: the environment of one installation (its database and its data directory).
side() {
  local which=$1
  shift
  (
    unset DATABASE_URL
    if [[ $engine == postgresql ]]; then
      export DATABASE_URL=$src_url
      [[ $which == dst ]] && DATABASE_URL=$dst_url
    fi
    export GLOCAL_DATA_DIR="$work/$which"
    "$@"
  )
}

say "engine: $engine; work directory: $work"
if [[ $engine == postgresql ]]; then
  psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 "$admin_url" \
    -c "CREATE DATABASE \"$src_db\"" -c "CREATE DATABASE \"$dst_db\"" >/dev/null
  echo "fresh databases $src_db and $dst_db"
fi

say "source: migrate and seed ($stores stores, $contacts contacts)"
side src manage migrate --noinput --verbosity 0 --skip-checks
side src manage seed --skip-checks --stores "$stores" --contacts "$contacts" >"$work/seed.log" 2>&1 ||
  { cat "$work/seed.log" >&2; exit 1; }
grep -m1 Seeded "$work/seed.log"

say "source: media files beside the seeded ones"
side src manage backup_tool info --output "$work/src.env"
src_media=$(bash -c "source '$work/src.env'; echo \"\$GLOCAL_MEDIA_ROOT\"")
side dst manage backup_tool info --output "$work/dst.env"
dst_media=$(bash -c "source '$work/dst.env'; echo \"\$GLOCAL_MEDIA_ROOT\"")
if [[ -z "$src_media" || "$src_media" == "$dst_media" ]]; then
  echo "the two installations must have their own media directory on disk ($src_media, $dst_media)" >&2
  exit 1
fi
mkdir -p "$src_media/roundtrip/deep/er" "$src_media/roundtrip/with space"
printf 'a text file\n' >"$src_media/roundtrip/note.txt"
head -c 65536 /dev/urandom >"$src_media/roundtrip/deep/er/random.bin"
printf 'é € ✓\n' >"$src_media/roundtrip/with space/unicode name ✓.txt"
: >"$src_media/roundtrip/empty"
find "$src_media" -type f | wc -l | xargs echo "media files:"

say "backup"
backup=$(side src "$ROOT/deploy/backup.sh" "$work/backups")

say "restore into the second installation"
side dst "$ROOT/deploy/restore.sh" "$backup"

say "compare, table by table"
side src manage backup_tool digest --output "$work/source.json"
side dst manage backup_tool digest --output "$work/restored.json"
manage backup_tool compare "$work/source.json" "$work/restored.json"

say "self-check: a changed row in the restore must be seen"
if [[ $engine == postgresql ]]; then
  psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 "$dst_url" \
    -c "UPDATE audience_contact SET first_name = first_name || '!' WHERE id = (SELECT min(id) FROM audience_contact)" >/dev/null
else
  dst_sqlite=$(bash -c "source '$work/dst.env'; echo \"\$GLOCAL_DB_SQLITE_PATH\"")
  "$PY" - "$dst_sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
with db:
    db.execute("UPDATE audience_contact SET first_name = first_name || '!' WHERE id = (SELECT min(id) FROM audience_contact)")
PY
fi
side dst manage backup_tool digest --output "$work/changed.json"
rc=0
manage backup_tool compare "$work/source.json" "$work/changed.json" >"$work/changed.txt" 2>&1 || rc=$?
if [[ $rc == 1 ]] && grep '^DIFF' "$work/changed.txt"; then
  echo "the changed row was seen (the comparison fails): it is not blind"
else
  echo "the comparison did not see a changed row" >&2
  exit 1
fi

say "BACKUP ROUND TRIP PASSED ($engine)"
