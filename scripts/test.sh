#!/usr/bin/env bash
# Install everything the tests need on a fresh machine, then run every test.
#   bash scripts/test.sh            all tests (unit, property, AppTest, browser end-to-end)
#   bash scripts/test.sh -m "not browser"   everything but the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

# Debian's packages the tests use: Chromium for the browser tests (driven by Playwright, never a
# downloaded browser), PostgreSQL for the store's second back end (the tests start a throwaway
# server of their own) and nginx for the replicas' test through a load balancer.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = "0" ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python3 -m ruff check .
python3 -m pytest "$@"
