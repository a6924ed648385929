#!/usr/bin/env bash
# Set up fer-dashboard on this machine: Python packages (the whole app; --serve: the lean set
# without TensorFlow, which runs every page and the CLI but not training or "Why this label?"),
# and with --dev also the test tools and Debian's chromium for the browser test. Safe to run
# again; does nothing that is already done.
# Packages are installed at the versions CI tested (constraints.txt; docs/development.md, "Tested versions").
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
dev=0
requirements=requirements.txt
[ "${1:-}" = "--dev" ] && dev=1
[ "${1:-}" = "--serve" ] && requirements=requirements-serve.txt

if [ $dev = 1 ]; then
  "$PYTHON" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
  if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing Debian's chromium for the browser test..."
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "note: chromium not found; the browser test will be skipped (apt-get install chromium)"
    fi
  fi
else
  "$PYTHON" -m pip install --quiet --disable-pip-version-check -r "$requirements" -c constraints.txt
fi
