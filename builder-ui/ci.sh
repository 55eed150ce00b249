#!/usr/bin/env bash
# CI for the flow builder: unit/component tests, a reproducible build whose output must match
# the committed dist/ (the Go binary embeds it), then the end-to-end test against the real server.
# Works from any directory.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then
  echo "ci.sh: installing Debian's chromium and CJK fonts for the end-to-end test"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q chromium fonts-noto-cjk
fi

npm ci --no-audit --no-fund
npm test
npm run build

if [ -n "$(git status --porcelain -- dist)" ]; then
  echo "ci.sh: ERROR: builder-ui/dist differs from the committed build." >&2
  echo "ci.sh: run 'cd builder-ui && npm ci && npm run build' and commit builder-ui/dist." >&2
  git status --porcelain -- dist >&2
  git --no-pager diff --stat -- dist >&2 || true
  exit 1
fi
echo "ci.sh: dist/ matches the committed build"

npm run e2e
