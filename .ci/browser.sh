#!/usr/bin/env bash
# The console's browser tests need Debian's chromium and axe-core (the npm package):
# install both when missing and print their paths. Usage: eval "$(.ci/browser.sh)"
# (never `playwright install`: Playwright drives the system chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium from Debian's packages..." >&2
  export DEBIAN_FRONTEND=noninteractive
  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) >&2
fi
AXE=".ci/node/node_modules/axe-core/axe.min.js"
if [ ! -f "$AXE" ]; then
  echo "installing axe-core from npm..." >&2
  mkdir -p .ci/node
  (cd .ci/node && npm install --silent --no-audit --no-fund --prefix . axe-core@4.10.3 >/dev/null) >&2
fi
echo "export FEDCARE_CHROMIUM=/usr/bin/chromium"
echo "export FEDCARE_AXE=$(pwd)/$AXE"
