#!/usr/bin/env bash
# The load benchmark (make bench) drives the servers with wrk (Debian package `wrk`).
# Installs it with apt-get when missing and we are root; otherwise says how.
set -euo pipefail
command -v "${WRK:-wrk}" >/dev/null && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing wrk for the load benchmark (apt-get install wrk)..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
    command -v wrk >/dev/null && exit 0
fi
echo "The load benchmark needs wrk: install it (sudo apt-get install wrk)." >&2
exit 1
