#!/usr/bin/env bash
# Schemathesis against the app as production runs it (granian via deploy/server.py, DEBUG off, collected static
# files) on a throwaway SQLite database: every check, writes included (a token), a bounded
# number of examples per operation. Exits non-zero on any failure; the server always goes.
#
#   SCHEMATHESIS_MAX_EXAMPLES  examples per operation and phase (default 100)
#   SCHEMATHESIS_SEED          replay a run (schemathesis prints the seed it used)
#   SCHEMATHESIS_PORT          loopback port (default: a free one below 32768)
set -euo pipefail
cd "$(dirname "$0")/.."

max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
report_dir="test-output/schemathesis"
work="$(mktemp -d "${TMPDIR:-/tmp}/bookstore-schemathesis.XXXXXX")"
server=""

cleanup() {
    if [ -n "$server" ]; then
        # The server runs in its own session: stop the main process and every worker, then wait.
        kill -TERM -- "-$server" 2>/dev/null || true
        for _ in $(seq 1 40); do kill -0 "$server" 2>/dev/null || break; sleep 0.25; done
        kill -KILL -- "-$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port another server already answers on would have us test that server instead.
# SCHEMATHESIS_PORT if it is free, else (unset) a free port below the ephemeral range (32768+).
port="$(.venv/bin/python harness/ports.py "${SCHEMATHESIS_PORT:-}")"
base="http://127.0.0.1:$port"

# Production settings, as an operator would set them; everything else from settings defaults.
# REDIS_URL is set (empty) so a local .env cannot point this run at a shared Redis.
export DATABASE_URL="sqlite:///$work/st.sqlite3"
export SECRET_KEY="schemathesis-$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(40))')"
export DEBUG=0
export ALLOWED_HOSTS=127.0.0.1
export REDIS_URL=""
export STATIC_ROOT="$work/static"
export THROTTLE_ANON_RATE=1000000/min THROTTLE_USER_RATE=1000000/min THROTTLE_AUTH_RATE=1000000/min WRITE_QUOTA_PER_DAY=0
export HOST=127.0.0.1 PORT="$port" WEB_CONCURRENCY=2 SERVER_THREADS=4
export PROMETHEUS_MULTIPROC_DIR="$work/metrics"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR" "$report_dir"

.venv/bin/python manage.py migrate --noinput --verbosity 0
.venv/bin/python manage.py collectstatic --noinput --verbosity 0
.venv/bin/python manage.py seed_books 50 >/dev/null

api_token() {  # a new token for user $1: create_api_user prints the key alone on stdout
    local key
    key="$(.venv/bin/python manage.py create_api_user "$1" 2>>"$work/setup.log" | tail -n 1)"
    [ -n "$key" ] || { cat "$work/setup.log" >&2; echo "FATAL: no token for $1" >&2; exit 1; }
    printf '%s' "$key"
}
token="$(api_token schemathesis)"
# The logout routes revoke the token they are sent (logout-all: every token of its user), so
# each gets a user of its own: the main token must last the whole run.
logout_token="$(api_token schemathesis-logout)"
logout_all_token="$(api_token schemathesis-logout-all)"

setsid .venv/bin/python -m deploy.server >"$work/server.log" 2>&1 &
server=$!

ready=""
for _ in $(seq 1 120); do
    if curl -fsS --max-time 2 "$base/readyz" >/dev/null 2>&1; then ready=1; break; fi
    kill -0 "$server" 2>/dev/null || break
    sleep 0.5
done
if [ -z "$ready" ]; then
    tail -n 50 "$work/server.log" >&2
    echo "FATAL: the server on $base did not become ready" >&2
    exit 1
fi

# Every check on ([checks] enabled = true: `--checks all` on the command line would override
# the per-operation settings below), with one exception. positive_data_acceptance ("a request
# the schema allows must succeed") is off where success depends on what JSON Schema cannot
# state, so that schema-valid requests are refused by design:
#   - an ISBN's check digit, and that no other book has it (?isbn on GET /books/ and
#     /books/export/; the body of POST /books/ and PUT/PATCH /books/{id}/);
#   - a cursor is a string the server signed (?cursor on GET /books/);
#   - If-Match must name the stored version, or it is a 412 (PUT/PATCH/DELETE /books/{id}/);
#   - only a real user's password gets a token (POST /auth/token/).
# It stays on for GET /books/{id}/ and the logout routes. object_level_authorization is on
# but finds nothing to run: it needs [auth.wfc] peers, and books are shared by all writers.
cat >"$work/schemathesis.toml" <<TOML
[checks]
enabled = true

[[operations]]
include-path-regex = "^/books/(export/)?\$"
include-method = "GET"
checks.positive_data_acceptance.enabled = false

[[operations]]
include-path = "/books/"
include-method = "POST"
checks.positive_data_acceptance.enabled = false

[[operations]]
include-path = "/books/{id}/"
include-method = ["PUT", "PATCH", "DELETE"]
checks.positive_data_acceptance.enabled = false

[[operations]]
include-path = "/auth/token/"
checks.positive_data_acceptance.enabled = false

[[operations]]
include-path = "/auth/logout/"
headers = { Authorization = "Token $logout_token" }

[[operations]]
include-path = "/auth/logout-all/"
headers = { Authorization = "Token $logout_all_token" }
TOML

seed_option=()
[ -n "${SCHEMATHESIS_SEED:-}" ] && seed_option=(--seed "$SCHEMATHESIS_SEED")
status=0
# One worker: with more, Python 3.11's ast module, which Hypothesis calls from each worker
# thread, can fail with "AST constructor recursion depth mismatch" (CPython gh-106905).
.venv/bin/schemathesis --no-color --config-file "$work/schemathesis.toml" \
    run "$base/api/schema/?format=json" \
    --url "$base" \
    -H "Authorization: Token $token" \
    --max-examples "$max_examples" \
    --workers 1 \
    --request-timeout 15 \
    --generation-database none \
    --report junit --report-junit-path "$report_dir/junit.xml" \
    "${seed_option[@]}" \
    || status=$?

if [ "$status" -ne 0 ]; then
    echo "--- server errors logged during the run ---" >&2
    grep -E '"level": ?"(error|critical)"|Traceback' "$work/server.log" | tail -n 20 >&2 || true
    echo "schemathesis: FAILED (exit $status)" >&2
    exit "$status"
fi
echo "schemathesis: OK"
