#!/usr/bin/env bash
# Restore a backup made by deploy/backup.sh into the database and media directory of this environment.
#
#   deploy/restore.sh [--yes] BACKUP_DIR
#
# The target is what the app would use with this environment: DATABASE_URL (PostgreSQL) or the SQLite
# file of GLOCAL_DATA_DIR / GLOCAL_SQLITE_PATH, and the media directory of the settings. Stop the web and
# worker processes first. The restore refuses:
#   - a backup whose files do not match their sha256 in manifest.json;
#   - a backup of the other engine (PostgreSQL ↔ SQLite);
#   - a backup whose migrations are newer than this code (install the version that made it first);
#   - a target database that already holds tables, unless --yes is given: its tables are then dropped
#     and replaced by the backup's, in one transaction with the restore (PostgreSQL) — all or nothing.
# The media directory in place is kept beside the restored one as <media>.before-restore-<time>.
# Afterwards, when the code is newer than the backup, run `glocal migrate`. See docs/backup.md.
#
# On a server installed by docs/deployment.md, as the glocal user with the installation's environment:
#   sudo -u glocal GLOCAL_ENV_FILE=/etc/glocal/glocal.env /opt/glocal/app/deploy/restore.sh --yes DIR
set -euo pipefail

# shellcheck source=lib/manage.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/manage.sh"
say() { printf 'restore: %s\n' "$*" >&2; }

yes=0
if [[ "${1:-}" == "--yes" ]]; then
  yes=1
  shift
fi
if [[ $# -ne 1 || ! -d "$1" ]]; then
  say "usage: deploy/restore.sh [--yes] BACKUP_DIR"
  exit 64
fi
backup=$(cd "$1" && pwd)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
info=$(mktemp)
trap 'rm -f "$info"' EXIT

# 1. May this code restore this backup? (checksums, engine, migrations not newer than the code)
manage backup_tool check "$backup" >&2

manage backup_tool info --output "$info"
# shellcheck disable=SC1090
source "$info" # GLOCAL_DB_ENGINE, GLOCAL_DB_TABLES, PG* or GLOCAL_DB_SQLITE_PATH, GLOCAL_MEDIA_*
if ((GLOCAL_DB_TABLES > 0 && !yes)); then
  say "the target database (${PGDATABASE:-${GLOCAL_DB_SQLITE_PATH:-}}) already holds $GLOCAL_DB_TABLES tables."
  say "stop the web and worker processes, then run again with --yes to replace its content by the backup."
  exit 1
fi

# 2. The database.
case "$GLOCAL_DB_ENGINE" in
  postgresql)
    say "restoring into PostgreSQL database ${PGDATABASE:-?} on ${PGHOST:-local socket}"
    # Tables left over from a newer schema (a rolled-back upgrade) are dropped first, in the same
    # transaction as the restore. COMMIT is sent only once pg_restore has written the whole dump: on any
    # error (a failed statement stops psql, a failed pg_restore sends no COMMIT) the transaction is
    # rolled back and the database is as it was.
    {
      cat <<'SQL'
BEGIN;
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() LOOP
    EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', r.tablename);
  END LOOP;
  FOR r IN SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() LOOP
    EXECUTE format('DROP SEQUENCE IF EXISTS %I CASCADE', r.sequencename);
  END LOOP;
END $$;
SQL
      pg_restore --clean --if-exists --no-owner --no-privileges --file=- "$backup/database.pgdump" &&
        echo "COMMIT;"
    } | PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" psql --no-psqlrc --quiet --no-password \
      --set=ON_ERROR_STOP=1 --dbname="$PGDATABASE" >/dev/null
    ;;
  sqlite)
    say "restoring into SQLite database $GLOCAL_DB_SQLITE_PATH (online backup API)"
    mkdir -p "$(dirname "$GLOCAL_DB_SQLITE_PATH")"
    manage backup_tool sqlite-restore "$backup/database.sqlite3"
    ;;
esac

# 3. The media files: unpacked beside the directory in place, then swapped in.
if [[ ! -f "$backup/media.tar.gz" ]]; then
  say "this backup holds no media (they were on object storage): restore the bucket from its versions."
elif [[ "$GLOCAL_MEDIA_ON_DISK" != 1 ]]; then
  say "media are stored by $GLOCAL_MEDIA_BACKEND here: upload $backup/media.tar.gz's files to it."
else
  media=${GLOCAL_MEDIA_ROOT%/}
  say "restoring media into $media"
  mkdir -p "$media.restoring-$stamp"
  tar --extract --gzip --file="$backup/media.tar.gz" --directory="$media.restoring-$stamp" --no-same-owner
  if [[ -e "$media" ]]; then
    mv "$media" "$media.before-restore-$stamp"
    say "the previous media directory is kept as $media.before-restore-$stamp (delete it once checked)"
  fi
  mv "$media.restoring-$stamp" "$media"
fi
say "done: $backup restored"
