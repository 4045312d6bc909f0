#!/usr/bin/env bash
# The deployment tests (make test) and the cluster test (make cluster-test) run nginx with our
# own configs (deploy/nginx). Installs Debian's package with apt-get when missing and we are
# root, without leaving the system's nginx serving port 80; otherwise says how.
set -euo pipefail
# /usr/sbin is not on every user's PATH.
if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
    exit 0
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing nginx for the deployment tests (apt-get install nginx)..."
    # The package starts its own server with the default site on port 80. A policy-rc.d that
    # answers 101 ("action forbidden") stops invoke-rc.d and deb-systemd-invoke doing that;
    # one already there is the machine's own and is left alone.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null
    # Whatever the policy, never leave a system nginx running (or starting at boot).
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        systemctl disable --now nginx >/dev/null 2>&1 || true
    fi
    if [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
        /usr/sbin/nginx -s quit || true
    fi
    [ -x /usr/sbin/nginx ] && exit 0
fi
echo "The deployment tests need nginx: install it (sudo apt-get install nginx)," >&2
echo "and stop the system service it starts (sudo systemctl disable --now nginx)." >&2
exit 1
