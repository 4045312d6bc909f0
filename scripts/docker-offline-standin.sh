#!/usr/bin/env bash
# STAND-INS FOR AN OFFLINE MACHINE WITHOUT DOCKER -- used by scripts/docker-test.sh only.
#
# What this is: every step that `make docker-test` needs on a machine like ours (Debian 12, no
# Docker engine running, no image registry reachable: only the Debian and PyPI package mirrors)
# and that a normal Docker machine does not need. Nothing here is part of the image or of the
# Dockerfile, which stays exactly as a user builds it (`docker build -t bookstore .`).
#
# Why it exists: the Dockerfile starts `FROM python:3.11-slim`, which cannot be pulled here, and
# no engine runs here. On a machine with a running engine and a registry every subcommand below
# is a no-op that only checks: the real engine and the real base image are used.
#
# Subcommands (all idempotent; diagnostics go to stderr):
#   client              Print the path of a docker client able to do a BuildKit build
#                       (`--secret`). Debian's docker.io (20.10, BuildKit built in, /usr/bin/docker)
#                       is installed when there is none: a static client without the buildx
#                       plugin (e.g. /usr/local/bin/docker 28.x here) would fall back to the
#                       legacy builder, which rejects `RUN --mount=type=secret`.
#   engine-start DOCKER If no engine answers, start Debian's dockerd in the background with the
#                       flags this machine needs (no bridge, no iptables; storage driver
#                       overlay2 if overlayfs mounts, else vfs) and wait for it (bounded).
#                       Its pid goes to $STANDIN_STATE/dockerd.pid; when an engine was
#                       already running no pid file is written. Refuses (never starts a second
#                       dockerd on /var/lib/docker) when /var/run/docker.pid names a live dockerd
#                       or /var/run/docker.sock exists but DOCKER does not reach an engine (no
#                       access to the socket, another DOCKER_HOST); starting one needs root.
#   engine-stop         Stop the dockerd that engine-start started (only that one), bounded.
#   build-flags DOCKER  Print (one a line) the extra `docker build` flags this engine needs:
#                       `--network=host` when it has no bridge network (dockerd --bridge none,
#                       as here: RUN steps fail with "network bridge not found" otherwise);
#                       nothing on an ordinary engine.
#   base-image DOCKER   Make sure python:3.11-slim exists locally: present -> nothing; a pull
#                       (bounded) works -> the real image; otherwise build a STAND-IN from
#                       Debian bookworm (Python 3.11) with debootstrap and `docker import` it
#                       under that tag, labelled bookstore.standin=true. It is left in place
#                       so the next run is fast (remove: DOCKER image rm python:3.11-slim).
#
# Environment: STANDIN_STATE (default /tmp/bookstore-docker-standin): pid file and dockerd log;
# DEBOOTSTRAP_MIRROR (default: the first Debian mirror in apt's sources, else deb.debian.org);
# PULL_TIMEOUT seconds (default 30); ENGINE_TIMEOUT seconds (default 60); DOCKERD_STORAGE_DRIVER
# (default: overlay2 when an overlayfs test mount works, else vfs as MACHINE-NOTES gives).
set -euo pipefail

STATE="${STANDIN_STATE:-/tmp/bookstore-docker-standin}"
BASE_IMAGE="python:3.11-slim"
PULL_TIMEOUT="${PULL_TIMEOUT:-30}"
ENGINE_TIMEOUT="${ENGINE_TIMEOUT:-60}"
DOCKERD_FLAGS=(
    --bridge none --iptables=false --ip6tables=false --ip-masq=false
    --default-ulimit nofile=20000:20000 --default-ulimit nproc=4096:4096
)

log() { printf '[standin] %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

# While apt-get runs, a policy-rc.d answering 101 ("action forbidden") keeps invoke-rc.d and
# deb-systemd-invoke from starting the package's services: docker.io's maintainer scripts would
# otherwise start a dockerd of their own, with default settings (as scripts/ensure-nginx.sh does
# for nginx). The machine's own policy-rc.d, if any, is moved aside meanwhile and put back after.
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_SAVED=""
policy_forbid_starts() {
    if [ -e "$POLICY_RC" ] || [ -L "$POLICY_RC" ]; then
        POLICY_SAVED="$POLICY_RC.bookstore-saved.$$"
        mv "$POLICY_RC" "$POLICY_SAVED"
    fi
    trap policy_restore EXIT
    trap 'policy_restore; exit 130' INT
    trap 'policy_restore; exit 143' TERM
    printf '#!/bin/sh\n# temporary: scripts/docker-offline-standin.sh (apt-get install)\nexit 101\n' \
        >"$POLICY_RC"
    chmod 755 "$POLICY_RC"
}
policy_restore() {
    rm -f "$POLICY_RC"
    if [ -n "$POLICY_SAVED" ]; then
        mv "$POLICY_SAVED" "$POLICY_RC"
        POLICY_SAVED=""
    fi
    trap - EXIT INT TERM
}

apt_install() {
    [ "$(id -u)" -eq 0 ] || die "installing $* needs root (apt-get)"
    log "apt-get install $* (service starts forbidden by a temporary $POLICY_RC)"
    export DEBIAN_FRONTEND=noninteractive
    local rc=0
    policy_forbid_starts
    apt-get update -qq -o DPkg::Lock::Timeout=300 >&2 ||
        log "apt-get update failed; trying the install with the lists at hand"
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" >&2 || rc=$?
    policy_restore
    return "$rc"
}

# A client whose `docker build` is a BuildKit build: one with the buildx plugin, or one from
# before Docker 23 (BuildKit built in, enabled by DOCKER_BUILDKIT=1).
buildkit_capable() {
    local client=$1 version major
    [ -x "$client" ] || return 1
    if "$client" buildx version >/dev/null 2>&1; then return 0; fi
    # (`docker version` exits 1 while no engine answers, but prints the client's version.)
    version=$("$client" version --format '{{.Client.Version}}' 2>/dev/null || true)
    major=${version%%.*}
    [[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -lt 23 ]
}

cmd_client() {
    local candidate
    for candidate in "${DOCKER:-}" "$(command -v docker || true)" /usr/bin/docker; do
        if [ -n "$candidate" ] && buildkit_capable "$candidate"; then
            echo "$candidate"
            return 0
        fi
    done
    log "no docker client with BuildKit here; installing Debian's docker.io"
    apt_install docker.io
    buildkit_capable /usr/bin/docker || die "/usr/bin/docker from docker.io cannot do a BuildKit build"
    echo /usr/bin/docker
}

# overlay2 when the kernel mounts overlayfs on the engine's filesystem (it does here: a
# container then starts in about 1 s); vfs, which works everywhere, otherwise. vfs copies every
# layer in full: each container start copied the ~530 MB image here (17-60 s under load).
storage_driver() {
    if [ -n "${DOCKERD_STORAGE_DRIVER:-}" ]; then
        echo "$DOCKERD_STORAGE_DRIVER"
        return
    fi
    local probe driver=vfs
    mkdir -p /var/lib/docker
    probe=$(mktemp -d /var/lib/docker/overlay-probe.XXXXXX)
    mkdir "$probe/lower" "$probe/upper" "$probe/work" "$probe/merged"
    if mount -t overlay overlay \
        -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" \
        "$probe/merged" 2>/dev/null; then
        umount "$probe/merged"
        driver=overlay2
    fi
    rm -rf "$probe"
    echo "$driver"
}

# What answers on a unix socket: "answers" (an HTTP reply to /_ping), "denied" (no permission),
# "refused" (nothing listens: a stale socket), or another error.
probe_socket() {
    python3 - "$1" <<'EOF'
import socket, sys
probe = socket.socket(socket.AF_UNIX)
probe.settimeout(5)
try:
    probe.connect(sys.argv[1])
    probe.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
    print("answers" if probe.recv(16).startswith(b"HTTP/") else "no HTTP reply")
except PermissionError:
    print("denied")
except ConnectionRefusedError:
    print("refused")
except OSError as error:
    print(f"error: {error}")
EOF
}

# Fail (clearly) rather than start a second dockerd on the same /var/lib/docker when an engine
# seems to run already but `DOCKER info` does not reach it.
refuse_second_engine() {
    local docker=$1 pid state us
    us="uid $(id -u), DOCKER_HOST=${DOCKER_HOST:-unset}"
    if [ -s /var/run/docker.pid ]; then
        pid=$(cat /var/run/docker.pid)
        if [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = dockerd ]; then
            die "a dockerd already runs (pid $pid, /var/run/docker.pid) but '$docker info'" \
                "fails for us ($us): give this user access to its socket (the docker group)" \
                "or point DOCKER_HOST at it; not starting a second dockerd on /var/lib/docker"
        fi
    fi
    if [ -e /var/run/docker.sock ]; then
        state=$(probe_socket /var/run/docker.sock)
        case "$state" in
        answers)
            die "an engine answers on /var/run/docker.sock but '$docker info' fails for us" \
                "($us): unset DOCKER_HOST or fix the client; not starting a second dockerd" ;;
        denied)
            die "/var/run/docker.sock exists but this user may not connect to it ($us):" \
                "run as root or join the docker group; not starting a second dockerd" ;;
        *)
            die "/var/run/docker.sock exists but no engine answers on it ($state) and" \
                "/var/run/docker.pid names no live dockerd: if no dockerd runs, remove the" \
                "stale socket (rm /var/run/docker.sock) and try again" ;;
        esac
    fi
}

cmd_engine_start() {
    local docker=${1:?usage: engine-start DOCKER} pid waited=0
    if "$docker" info >/dev/null 2>&1; then
        log "a Docker engine is already running; using it (and leaving it running)"
        return 0
    fi
    refuse_second_engine "$docker"
    [ "$(id -u)" -eq 0 ] ||
        die "no Docker engine answers and starting one (dockerd) needs root: run as root, or" \
            "start an engine and give this user access to it (the docker group)"
    if ! command -v dockerd >/dev/null 2>&1 && [ ! -x /usr/sbin/dockerd ]; then
        apt_install docker.io
    fi
    local dockerd
    dockerd=$(command -v dockerd || echo /usr/sbin/dockerd)
    local driver
    driver=$(storage_driver)
    mkdir -p "$STATE"
    log "starting $dockerd --storage-driver $driver ${DOCKERD_FLAGS[*]} (log: $STATE/dockerd.log)"
    setsid "$dockerd" --storage-driver "$driver" "${DOCKERD_FLAGS[@]}" \
        >"$STATE/dockerd.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$STATE/dockerd.pid"
    until "$docker" info >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$STATE/dockerd.pid"
            tail -n 20 "$STATE/dockerd.log" >&2 || true
            die "dockerd exited during start-up"
        fi
        if [ "$waited" -ge $((ENGINE_TIMEOUT * 2)) ]; then
            tail -n 20 "$STATE/dockerd.log" >&2 || true
            cmd_engine_stop
            die "dockerd did not answer within ${ENGINE_TIMEOUT} s"
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    log "dockerd (pid $pid) is up"
}

cmd_engine_stop() {
    local pidfile="$STATE/dockerd.pid" pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    rm -f "$pidfile"
    # Only the process we started, and only if it still is a dockerd.
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" != "dockerd" ]; then return 0; fi
    log "stopping dockerd (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || {
            log "dockerd stopped"
            return 0
        }
        sleep 0.5
    done
    log "dockerd did not stop within 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    # A killed dockerd leaves its pid file and socket; they are ours, and engine-start would
    # otherwise refuse next time (the stale socket answers nobody).
    sleep 0.5
    if [ "$(cat /var/run/docker.pid 2>/dev/null || true)" = "$pid" ]; then
        rm -f /var/run/docker.pid /var/run/docker.sock
    fi
}

cmd_build_flags() {
    local docker=${1:?usage: build-flags DOCKER}
    if ! "$docker" network inspect bridge >/dev/null 2>&1; then
        log "the engine has no bridge network: RUN steps of the build use the host's network"
        echo "--network=host"
    fi
}

debian_mirror() {
    if [ -n "${DEBOOTSTRAP_MIRROR:-}" ]; then
        echo "$DEBOOTSTRAP_MIRROR"
        return
    fi
    local found
    found=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null |
        grep -oE '^(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)https?://[^[:space:]]+/debian/?([[:space:]]|$)' |
        grep -oE 'https?://[^[:space:]]+' | grep -v security | head -n 1 || true)
    echo "${found:-http://deb.debian.org/debian}"
}

cmd_base_image() {
    local docker=${1:?usage: base-image DOCKER}
    if "$docker" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        local standin
        standin=$("$docker" image inspect --format '{{index .Config.Labels "bookstore.standin"}}' \
            "$BASE_IMAGE" 2>/dev/null || true)
        log "$BASE_IMAGE is present${standin:+ (the offline stand-in)}"
        return 0
    fi
    if timeout --foreground "$PULL_TIMEOUT" "$docker" pull "$BASE_IMAGE" >&2; then
        log "pulled the real $BASE_IMAGE"
        return 0
    fi
    log "$BASE_IMAGE cannot be pulled: making an offline stand-in from Debian bookworm"
    command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
    local mirror rootfs
    mirror=$(debian_mirror)
    rootfs=$(mktemp -d /var/tmp/bookstore-standin-rootfs.XXXXXX)
    chmod 0755 "$rootfs" # it becomes the image's /: mktemp's 0700 would lock out USER 10001
    # shellcheck disable=SC2064  # expand now: the path is fixed
    trap "rm -rf '$rootfs'" EXIT
    log "debootstrap bookworm from $mirror (about 45 s)"
    if ! debootstrap --variant=minbase --include=python3,python3-venv,python3-pip \
        bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
        tail -n 20 "$rootfs.log" >&2
        rm -f "$rootfs.log"
        die "debootstrap failed"
    fi
    rm -f "$rootfs.log"
    # What python:3.11-slim offers and the Dockerfile relies on: `python` and `pip` on PATH and
    # pip installing into the system (Debian marks its Python as externally managed).
    ln -sf python3 "$rootfs/usr/bin/python"
    [ -e "$rootfs/usr/bin/pip" ] || ln -sf pip3 "$rootfs/usr/bin/pip"
    rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | "$docker" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'LABEL bookstore.standin=true' \
        --change 'CMD ["python3"]' \
        --message "offline stand-in for $BASE_IMAGE (debootstrap bookworm, scripts/docker-offline-standin.sh)" \
        - "$BASE_IMAGE" >&2
    "$docker" run --rm --network none "$BASE_IMAGE" sh -c \
        'python --version && pip --version && command -v groupadd useradd' >&2 ||
        die "the stand-in $BASE_IMAGE lacks something the Dockerfile needs"
    "$docker" run --rm --network none --user 10001:10001 "$BASE_IMAGE" python -c pass ||
        die "the stand-in $BASE_IMAGE cannot run Python as a non-root user"
    log "stand-in $BASE_IMAGE made"
}

case "${1:-}" in
client) cmd_client ;;
engine-start) cmd_engine_start "${2:-}" ;;
engine-stop) cmd_engine_stop ;;
build-flags) cmd_build_flags "${2:-}" ;;
base-image) cmd_base_image "${2:-}" ;;
*)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2
    exit 2
    ;;
esac
