#!/usr/bin/env bash
# What `make test` needs from the system, installed when missing (Debian; run by `make test`).
#
#   PostgreSQL binaries  initdb/pg_ctl: tests start a throwaway server (testing/postgres.py),
#                        as the `postgres` user when run as root
#   Chromium             /usr/bin/chromium: the browser tests drive it through Playwright
#                        (Debian's package, never `playwright install`)
#   python3-venv         only while .venv does not exist yet
#
# As root it runs `apt-get update` once and installs the missing packages without recommends;
# a cluster the postgresql package starts is stopped again (the tests start their own).
# As another user it names the one command to run, then stops.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have_postgres() {
  [ -n "${VIVIER_PG_BINDIR:-}" ] && [ -x "$VIVIER_PG_BINDIR/initdb" ] && return 0
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}
# As root the server runs as `postgres`, a user the Debian package creates.
if ! have_postgres || { [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; }; then
  need+=(postgresql)
fi
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ! -x .venv/bin/python ] && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  need+=(python3-venv)
fi

[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "make test needs ${need[*]} (missing on this machine). Install them once with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
  exit 1
fi

echo "make test: installing ${need[*]} (Debian packages, once)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"

# Debian starts a cluster when postgresql is installed; the tests start their own, so stop it.
if [[ " ${need[*]} " == *" postgresql "* ]] && command -v pg_lsclusters >/dev/null 2>&1; then
  pg_lsclusters -h 2>/dev/null | while read -r version name _; do
    pg_ctlcluster "$version" "$name" stop 2>/dev/null || true
  done
fi
