#!/usr/bin/env bash
# Back up Glocal — its database, its media files and a manifest — into one new directory.
#
#   deploy/backup.sh [DEST]        DEST: $GLOCAL_BACKUP_DIR, else ./backups
#
# What is backed up is what the app uses, read from the same environment: DATABASE_URL (PostgreSQL,
# dumped with pg_dump --format=custom) or the SQLite file of GLOCAL_DATA_DIR / GLOCAL_SQLITE_PATH (copied
# with SQLite's online backup API), and the media directory of the settings (tar). Run it as the user
# and with the environment of the app (below). The app may keep running. A backup is written to DEST/glocal-<UTC time>.partial and renamed to
# DEST/glocal-<UTC time> once complete; the last line printed is its path. See docs/backup.md.
#
# On a server installed by docs/deployment.md, as the glocal user with the installation's environment:
#   sudo -u glocal GLOCAL_ENV_FILE=/etc/glocal/glocal.env /opt/glocal/app/deploy/backup.sh /var/backups/glocal
set -euo pipefail

# shellcheck source=lib/manage.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/manage.sh"
say() { printf 'backup: %s\n' "$*" >&2; }

dest=${1:-${GLOCAL_BACKUP_DIR:-$PWD/backups}}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
final="$dest/glocal-$(date -u +%Y%m%dT%H%M%SZ)"
work="$final.partial"
if [[ -e "$final" || -e "$work" ]]; then
  say "$final already exists; wait a second and run again."
  exit 1
fi
umask 077 # a backup holds personal data: readable by its owner only
mkdir "$work"
info=$(mktemp)
trap 'rm -rf "$work" "$info"' EXIT # on failure, no half backup is left behind

manage backup_tool info --output "$info"
# shellcheck disable=SC1090
source "$info" # GLOCAL_DB_ENGINE, PG* or GLOCAL_DB_SQLITE_PATH, GLOCAL_MEDIA_*

# 1. The migration state, before the dump (the manifest re-reads it after: a migrate in between fails).
manage showmigrations --plan --skip-checks >"$work/showmigrations.txt"
manage backup_tool migrations --output "$work/migrations.json"

# 2. The database: one consistent snapshot.
case "$GLOCAL_DB_ENGINE" in
  postgresql)
    say "dumping PostgreSQL database ${PGDATABASE:-?} on ${PGHOST:-local socket}"
    pg_dump --format=custom --no-password --file="$work/database.pgdump"
    ;;
  sqlite)
    say "copying SQLite database $GLOCAL_DB_SQLITE_PATH (online backup API)"
    manage backup_tool sqlite-backup "$work/database.sqlite3"
    ;;
esac

# 3. The media files, after the database: every file the dump refers to already exists.
if [[ "$GLOCAL_MEDIA_ON_DISK" == 1 ]]; then
  say "archiving media directory $GLOCAL_MEDIA_ROOT"
  if [[ -d "$GLOCAL_MEDIA_ROOT" ]]; then
    rc=0
    tar --create --gzip --file="$work/media.tar.gz" --directory="$GLOCAL_MEDIA_ROOT" \
      --warning=no-file-changed . || rc=$?
    # 1 = a file changed while it was read (an upload in progress): the archive is still usable.
    if ((rc > 1)); then exit "$rc"; fi
    if ((rc == 1)); then say "a media file changed while archiving (an upload in progress): kept as read"; fi
  else
    tar --create --gzip --file="$work/media.tar.gz" --files-from=/dev/null
  fi
else
  say "media are stored by $GLOCAL_MEDIA_BACKEND, not on this disk: not in this backup."
  say "keep the bucket's versioning on (docs/backup.md, 'Media on S3')."
fi

# 4. The manifest: date, version, migrations, sha256 of every file (and SHA256SUMS for sha256sum -c).
label=$(git -C "$ROOT" describe --tags --always --dirty 2>/dev/null || true)
manage backup_tool manifest "$work" --before "$work/migrations.json" --version-label "$label" >&2

mv "$work" "$final"
say "done"
echo "$final"
