#!/usr/bin/env bash
# `make docker-test`: the unchanged Dockerfile built and run for real, as the lecture does it
# (`docker build -t bookstore .`), then one create-read-delete round trip through the container
# against the machine's PostgreSQL and Redis.
#
#   1. engine      a Docker engine and a BuildKit-capable client (on a machine without them:
#                  Debian's docker.io and a background dockerd, scripts/docker-offline-standin.sh)
#   2. base image  python:3.11-slim: present, pulled, or (offline only) the debootstrap stand-in
#   3. build       docker build -t bookstore . (the machine's CA bundle as the optional secret `ca`;
#                  on an engine without a bridge network, as here, also --network=host)
#   4. run         fresh database bookstore_docker, Redis db 10; migrate and create_api_user in
#                  one-shot containers; the server with --network host on a free port < 32768
#   5. round trip  /readyz, POST/GET/DELETE/GET of a book (scripts/docker_round_trip.py), the
#                  container's uid (10001), the image's own HEALTHCHECK command run in the
#                  container (docker exec, must exit 0), then a graceful stop (exit 0)
#
# Always, success or failure (trap on EXIT): the containers are removed, the database dropped,
# Redis db 10 flushed, and dockerd stopped if this run started it. The image `bookstore` and
# the base image are kept, so the next run only rebuilds what changed.
#
# Environment: DOCKER (client to use), IMAGE (default bookstore), PG_ADMIN_URL (default
# postgres://postgres@127.0.0.1:5432/postgres), DOCKER_TEST_DB (default bookstore_docker),
# DOCKER_TEST_REDIS (default redis://127.0.0.1:6379/10; db 9 is make bench's, which flushes it),
# BUILD_TIMEOUT (default 1800 s). Every docker command under `timeout` runs with --foreground,
# so that Ctrl-C reaches it.
set -euo pipefail
cd "$(dirname "$0")/.."

STANDIN=scripts/docker-offline-standin.sh
IMAGE="${IMAGE:-bookstore}"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB_NAME="${DOCKER_TEST_DB:-bookstore_docker}"
DATABASE_URL="${PG_ADMIN_URL%/*}/$DB_NAME"
REDIS_URL="${DOCKER_TEST_REDIS:-redis://127.0.0.1:6379/10}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-1800}"
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
NAME="bookstore-docker-test-$$"
CONTAINERS=()
ENV_FILE=""
DB_MADE=0
DOCKER=""
TIMINGS=()

say() { printf '\n[docker-test] %s\n' "$*"; }
fail() {
    printf '[docker-test] FAILED: %s\n' "$*" >&2
    exit 1
}
now() { date +%s.%N; }
phase_start() {
    PHASE="$1"
    PHASE_T0=$(now)
    say "== $PHASE"
}
phase_end() {
    local took
    took=$(awk -v a="$PHASE_T0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
    TIMINGS+=("$(printf '%-11s %7s s' "$PHASE" "$took")")
    say "$PHASE done in $took s"
}
psql_admin() { psql "$PG_ADMIN_URL" -X -q -v ON_ERROR_STOP=1 "$@"; }

cleanup() {
    local rc=$? container
    set +e
    trap - EXIT INT TERM
    if [ -n "$DOCKER" ]; then
        if [ "$rc" -ne 0 ] && "$DOCKER" container inspect "$NAME" >/dev/null 2>&1; then
            say "last lines of the server's log:"
            "$DOCKER" logs --tail 40 "$NAME" 2>&1
        fi
        for container in "${CONTAINERS[@]}"; do
            "$DOCKER" rm -f "$container" >/dev/null 2>&1
        done
    fi
    [ "$DB_MADE" -eq 1 ] && psql_admin -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)"
    redis-cli -u "$REDIS_URL" flushdb >/dev/null 2>&1
    [ -n "$ENV_FILE" ] && rm -f "$ENV_FILE"
    "$STANDIN" engine-stop
    say "cleaned up: containers removed, database $DB_NAME dropped, $REDIS_URL flushed" \
        "(image $IMAGE and python:3.11-slim kept)"
    if [ "${#TIMINGS[@]}" -gt 0 ]; then
        say "timings:"
        printf '    %s\n' "${TIMINGS[@]}"
    fi
    if [ "$rc" -eq 0 ]; then say "PASSED"; else say "FAILED (exit $rc)"; fi
    exit "$rc"
}

# One run at a time: runs share the engine, the database name and Redis db 10. The lock file is
# per user: one left by another user could not be opened for writing (its owner, and
# fs.protected_regular in /tmp); only root can start an engine anyway.
exec 9>"/tmp/bookstore-docker-test-$(id -u).lock"
flock -w 1200 9 || fail "another docker-test still runs after 20 min"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# PostgreSQL and Redis are the machine's (.ci/run makes sure they are up).
pg_isready -q -d "$PG_ADMIN_URL" || fail "PostgreSQL is not reachable at $PG_ADMIN_URL"
redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 || fail "Redis is not reachable at $REDIS_URL"

phase_start engine
DOCKER=$("$STANDIN" client)
# A client from before Docker 23 (Debian's 20.10) builds with BuildKit only when asked to;
# a newer one with buildx does anyway.
export DOCKER_BUILDKIT=1
"$STANDIN" engine-start "$DOCKER"
echo "client: $DOCKER $("$DOCKER" version --format '{{.Client.Version}}')," \
    "engine: $("$DOCKER" version --format '{{.Server.Version}}')," \
    "storage driver: $("$DOCKER" info --format '{{.Driver}}')"
phase_end

phase_start base-image
"$STANDIN" base-image "$DOCKER"
phase_end

phase_start build
build_args=(build -t "$IMAGE" --progress=plain)
mapfile -t engine_flags < <("$STANDIN" build-flags "$DOCKER")
build_args+=("${engine_flags[@]}")
[ -f "$CA_BUNDLE" ] && build_args+=(--secret "id=ca,src=$CA_BUNDLE")
echo "+ $DOCKER ${build_args[*]} ."
timeout --foreground "$BUILD_TIMEOUT" "$DOCKER" "${build_args[@]}" . 2>&1 |
    grep --line-buffered -vE '^#[0-9]+ (sha256:|extracting|transferring)' ||
    fail "docker build failed"
echo "image: $IMAGE $("$DOCKER" image inspect --format '{{.Id}} {{.Size}} bytes' "$IMAGE")"
phase_end

phase_start run
psql_admin -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)"
psql_admin -c "CREATE DATABASE \"$DB_NAME\""
DB_MADE=1
redis-cli -u "$REDIS_URL" flushdb >/dev/null
PORT=$(python3 harness/ports.py) || fail "no free port in 20000-32000"
ENV_FILE=$(mktemp /tmp/bookstore-docker-test-env.XXXXXX)
cat >"$ENV_FILE" <<EOF
SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')
DATABASE_URL=$DATABASE_URL
REDIS_URL=$REDIS_URL
HOST=127.0.0.1
PORT=$PORT
ALLOWED_HOSTS=127.0.0.1
SECURE_PROXY_SSL_HEADER=0
EOF
# Every container's name is known before it starts, so the cleanup removes it whatever happens.
CONTAINERS+=("$NAME-migrate" "$NAME-token" "$NAME")
run_once() { # NAME-SUFFIX COMMAND...: a one-shot container (--rm)
    local name="$NAME-$1"
    shift
    timeout --foreground 300 "$DOCKER" run --rm --name "$name" --network host --env-file "$ENV_FILE" \
        "$IMAGE" "$@"
}
echo "+ python manage.py migrate --noinput"
run_once migrate python manage.py migrate --noinput || fail "migrate failed"
TOKEN=$(run_once token python manage.py create_api_user docker-test | tail -n 1)
[ -n "$TOKEN" ] || fail "create_api_user printed no token"
echo "API token for user docker-test issued"
# No --sysctl net.ipv4.tcp_migrate_req=1 (compose and Kubernetes set it): runc refuses net.*
# sysctls in the host's network namespace ("not allowed in host network namespace"), and this
# engine has no bridge network. The round trip kills no worker, so it does not depend on it.
"$DOCKER" run -d --name "$NAME" --network host --env-file "$ENV_FILE" "$IMAGE" >/dev/null
echo "server container $NAME on http://127.0.0.1:$PORT/ (database $DB_NAME, $REDIS_URL)"
phase_end

phase_start round-trip
BOOKSTORE_TOKEN="$TOKEN" python3 scripts/docker_round_trip.py "http://127.0.0.1:$PORT" \
    --ready-timeout 60 || fail "round trip"
uid=$("$DOCKER" exec "$NAME" id -u)
echo "  container user: uid $uid"
[ "$uid" = 10001 ] || fail "the server runs as uid $uid, not 10001"
# The engine's first HEALTHCHECK probe comes only after --interval (30 s), so the state is still
# "starting" here: run the image's own HEALTHCHECK command in the container instead, and require
# exit 0 (what the engine would count as healthy).
hc_json=$("$DOCKER" image inspect --format '{{json .Config.Healthcheck.Test}}' "$IMAGE")
# The command as NUL-separated words (an argument may hold a newline); none -> an empty array.
mapfile -d '' -t hc_cmd < <(printf '%s' "$hc_json" | python3 -c '
import json, sys
test = json.load(sys.stdin) or []
if test[:1] == ["CMD"] and len(test) > 1:
    argv = test[1:]
elif test[:1] == ["CMD-SHELL"] and len(test) == 2:
    argv = ["/bin/sh", "-c", test[1]]
else:
    sys.exit(f"no usable HEALTHCHECK in the image: {test!r}")
sys.stdout.write("".join(arg + "\0" for arg in argv))
')
[ "${#hc_cmd[@]}" -gt 0 ] || fail "the image $IMAGE declares no usable HEALTHCHECK (Test: $hc_json)"
echo "  HEALTHCHECK: + $DOCKER exec $NAME$(printf ' %q' "${hc_cmd[@]}")"
timeout --foreground 30 "$DOCKER" exec "$NAME" "${hc_cmd[@]}" ||
    fail "the image's HEALTHCHECK command failed in the container (exit $?)"
echo "  HEALTHCHECK: the image's command exited 0 (engine state so far:" \
    "$("$DOCKER" inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$NAME"))"
"$DOCKER" stop -t 30 "$NAME" >/dev/null
code=$("$DOCKER" inspect --format '{{.State.ExitCode}}' "$NAME")
echo "  docker stop: the server exited with status $code"
[ "$code" = 0 ] || fail "the server did not stop cleanly (exit $code)"
phase_end
