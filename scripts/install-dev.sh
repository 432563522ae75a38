#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine with Python 3.11:
# Debian's prometheus (promtool + server) and kcat (the documented CLI consumer) for the deploy tests,
# and the package with its dev extras.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1 \
   || ! command -v kcat >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus kcat >/dev/null
fi
# torch==2.13.0 is pinned in pyproject.toml; pip resolves it before anything that depends on torch.
python3 -m pip install --disable-pip-version-check -q -e '.[dev]'
