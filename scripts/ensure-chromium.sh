#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (/usr/bin/chromium); Playwright downloads none.
# Installs it with apt-get when missing and we are root; otherwise says how.
set -euo pipefail
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Chromium for the browser tests (apt-get install chromium)..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
    [ -x "$CHROMIUM" ] && exit 0
fi
echo "The browser tests need Chromium at $CHROMIUM: install it (sudo apt-get install chromium)" >&2
echo "or run the other tests only: make test PYTEST_ARGS='-m \"not e2e\"'" >&2
exit 1
