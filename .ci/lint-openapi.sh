#!/usr/bin/env bash
# Lints the gateway's OpenAPI document (adapters/gateway/openapi.json, the
# bytes GET /openapi.json serves) with Redocly CLI, pinned with its whole
# dependency tree by .ci/redocly/package-lock.json and installed once, with
# `npm ci`, into a cache directory outside the repository (keyed by the
# lock file's hash). Needs node and npm (apt-get install nodejs npm), and
# the npm registry the first time. Without them it skips with the hint,
# except under CI=true, where that is an error; warnings count as errors
# (.ci/redocly/redocly.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
skip() {
  echo "lint-openapi: $1" >&2
  if [ "${CI:-}" = true ]; then echo "lint-openapi: CI=true: nothing may skip" >&2; exit 1; fi
  echo "lint-openapi: skipped" >&2
  exit 0
}
command -v node >/dev/null 2>&1 || skip "node is missing (apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || skip "npm is missing (apt-get install nodejs npm)"
cache=${REDOCLY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/securesign/redocly}
dir=$cache/$(sha256sum .ci/redocly/package-lock.json | cut -c1-16)
if [ ! -x "$dir/node_modules/.bin/redocly" ]; then
  mkdir -p "$cache"
  tmp=$(mktemp -d "$dir.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  cp .ci/redocly/package.json .ci/redocly/package-lock.json "$tmp/"
  if ! (cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error >&2); then
    skip "npm ci of .ci/redocly failed (no access to the npm registry?)"
  fi
  mv "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp" # another run may have won
  trap - EXIT
fi
# The deprecation banners of newer Node versions are not findings.
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true REDOCLY_TELEMETRY=off
out=$("$dir/node_modules/.bin/redocly" lint --config .ci/redocly/redocly.yaml adapters/gateway/openapi.json 2>&1) || {
  echo "$out" >&2
  echo "lint-openapi: redocly lint found problems in adapters/gateway/openapi.json" >&2
  exit 1
}
if grep -qE "You have [0-9]+ warning" <<<"$out"; then
  echo "$out" >&2
  echo "lint-openapi: warnings count: fix them (or, argued in the commit, turn the rule off in .ci/redocly/redocly.yaml)" >&2
  exit 1
fi
echo "lint-openapi: adapters/gateway/openapi.json is clean ($("$dir/node_modules/.bin/redocly" --version 2>/dev/null | tail -1))"
