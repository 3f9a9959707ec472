#!/usr/bin/env bash
# `make ui`: a local Prefect server + the vivier deployments + a worker on the demo database.
#
# Everything lives under var/ (PREFECT_HOME=var/prefect, logs there too) and listens on
# 127.0.0.1:$VIVIER_UI_PORT (default 4300, not Prefect's 4200, so it never meets another server).
# Ctrl-C stops the server and the worker this script started, nothing else.
set -euo pipefail
set -m  # each background job in its own process group: stopping one stops its children

cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/.venv/bin
PORT=${VIVIER_UI_PORT:-4300}
export PREFECT_HOME=$ROOT/var/prefect
# Before the server starts: the UI reads its API address at start (set later, it points at 4200).
export PREFECT_API_URL=http://127.0.0.1:$PORT/api
export PREFECT_UI_API_URL=$PREFECT_API_URL
export PREFECT_UI_URL=http://127.0.0.1:$PORT  # links in alerts and logs
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 GX_ANALYTICS_ENABLED=false
mkdir -p "$PREFECT_HOME"

if [ ! -f var/vivier.db ]; then
    echo "No demo database yet (var/vivier.db): running \`vivier demo\` first."
    VIVIER_ENV=demo "$BIN/vivier" demo
fi

started=()  # process group ids of what this script started: the only things it stops
any_alive() {
    local pid
    for pid in "${started[@]}"; do kill -0 -- "-$pid" 2>/dev/null && return 0; done
    return 1
}
stop() {
    [ ${#started[@]} -gt 0 ] || return 0
    set +m  # no "Terminated" job notices
    local pid waited=0
    for pid in "${started[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    while [ $waited -lt 20 ] && any_alive; do sleep 0.5; waited=$((waited + 1)); done
    for pid in "${started[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done  # after 10 s
    started=()
    echo "make ui: stopped the Prefect server and the worker it started."
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

if curl -fsS "$PREFECT_API_URL/health" >/dev/null 2>&1; then
    echo "Something already answers on port $PORT: stop it, or choose another with VIVIER_UI_PORT=4301 make ui" >&2
    exit 1
fi
echo "Starting the Prefect server on 127.0.0.1:$PORT (log: var/prefect/server.log)…"
"$BIN/prefect" server start --host 127.0.0.1 --port "$PORT" >"$PREFECT_HOME/server.log" 2>&1 &
started+=($!)
until curl -fsS "$PREFECT_API_URL/health" >/dev/null 2>&1; do
    if ! kill -0 "${started[0]}" 2>/dev/null; then
        echo "The Prefect server exited: see var/prefect/server.log" >&2
        tail -20 "$PREFECT_HOME/server.log" >&2
        exit 1
    fi
    sleep 1
done

echo "Creating the work pool and deploying prefect.yaml…"
# The pool as `prefect work-pool create vivier --type process` would, without its registry look-up.
"$BIN/python" - <<'EOF'
from prefect import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists
from prefect.workers.process import ProcessWorker

with get_client(sync_client=True) as client:
    try:
        client.create_work_pool(WorkPoolCreate(
            name="vivier", type="process",
            base_job_template=ProcessWorker.get_default_base_job_template()))
    except ObjectAlreadyExists:
        pass
EOF
# Without VIVIER_PROJECT_DIR, as in production: the worker says where the code is.
env -u VIVIER_PROJECT_DIR "$BIN/prefect" deploy --all --no-prompt >"$PREFECT_HOME/deploy.log" 2>&1 \
    || { echo "prefect deploy failed: see var/prefect/deploy.log" >&2; tail -20 "$PREFECT_HOME/deploy.log" >&2; exit 1; }

echo "Starting a worker on the demo database (log: var/prefect/worker.log)…"
VIVIER_ENV=demo VIVIER_PROJECT_DIR=$ROOT VIVIER_DATABASE_URL=sqlite:///$ROOT/var/vivier.db \
VIVIER_TRANSPORT=maildir VIVIER_MAILDIR_PATH=$ROOT/var/outbox \
    "$BIN/prefect" worker start --pool vivier >"$PREFECT_HOME/worker.log" 2>&1 &
started+=($!)

cat <<EOF

  The Prefect UI: http://127.0.0.1:$PORT

  Deployments: weekly, monthly, quarterly, retention, consent-survey, report, backfill.
  A run by hand, in another terminal:
      PREFECT_API_URL=$PREFECT_API_URL .venv/bin/prefect deployment run nurture/weekly
  or the UI's "Run" button on a deployment. Ctrl-C here stops the server and the worker.

EOF
wait "${started[@]}"
