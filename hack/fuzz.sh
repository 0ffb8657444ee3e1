#!/usr/bin/env bash
# Runs every fuzz target in the root module for a short time each (default 20s).
set -o errexit -o nounset -o pipefail
[ "${1:-}" = "-h" ] && { echo "usage: hack/fuzz.sh [DURATION]  (runs each Fuzz* target for DURATION, default 20s)"; exit 0; }
cd "$(dirname "$0")/.."
dur="${1:-20s}"
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== $pkg $target"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$dur" "$pkg"
  done
done
