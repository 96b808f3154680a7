#!/usr/bin/env bash
# Debian's chromium for the browser tests (tests/orchestration/test_browser.py drive it with Playwright for
# Python; Playwright's own browser download is never used). Installs it with apt-get when it is
# missing; does nothing when it is there.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
sudo=()
if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "chromium is missing: run apt-get install -y chromium as root" >&2; exit 1; }
    sudo=(sudo)
fi
echo "installing chromium (apt-get install -y chromium)" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends chromium
command -v chromium >/dev/null
