# Sourced by deploy/backup.sh and deploy/restore.sh: the installation's environment and how Django runs.
# Sets ROOT (the code's directory) and the function `manage` (a manage.py command).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The installation's environment file (KEY=value lines, exported as they are, as deploy/glocal-manage does).
if [[ -n "${GLOCAL_ENV_FILE:-}" ]]; then
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then export "${line?}"; fi
  done <"$GLOCAL_ENV_FILE"
fi
# How Django runs: GLOCAL_MANAGE, else this code's manage.py with its virtualenv (.venv beside it, or
# GLOCAL_VENV, /opt/glocal/venv by default as in docs/deployment.md).
if [[ -n "${GLOCAL_MANAGE:-}" ]]; then
  read -r -a MANAGE <<<"$GLOCAL_MANAGE"
else
  PY=python3
  for candidate in "$ROOT/.venv/bin/python" "${GLOCAL_VENV:-/opt/glocal/venv}/bin/python"; do
    if [[ -x $candidate ]]; then
      PY=$candidate
      break
    fi
  done
  MANAGE=("$PY" "$ROOT/manage.py")
fi
manage() { "${MANAGE[@]}" "$@"; }
