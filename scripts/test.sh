#!/usr/bin/env bash
# Install everything the tests need on a fresh machine, then run every test.
#   bash scripts/test.sh            all tests (unit, property, AppTest, browser end-to-end)
#   bash scripts/test.sh -m "not browser"   everything but the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

# The browser tests drive Debian's Chromium through Playwright (never a downloaded browser).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi

python3 -m ruff check .
python3 -m pytest "$@"
