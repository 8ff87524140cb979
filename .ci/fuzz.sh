#!/usr/bin/env bash
# Runs every Fuzz* target of the module for a short time each (default 5s).
# A target fails the run when it finds an input (written to testdata/fuzz).
# Go's fuzzing engine sometimes ends a run with "context deadline exceeded"
# when -fuzztime runs out in the middle of minimising an input, without any
# failing input: that one case is retried once, never a real finding.
set -uo pipefail
t=${1:-5s}
n=0
failed=()
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)\(' "$dir"/*_test.go 2>/dev/null | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/' | sort -u); do
    n=$((n+1))
    for try in 1 2; do
      echo "fuzz: $pkg $f ($t, try $try)"
      out=$(go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg" 2>&1)
      rc=$?
      printf '%s\n' "$out"
      [ $rc -eq 0 ] && break
      if [ $try -eq 1 ] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
        echo "fuzz: $f: engine deadline without a failing input; retrying once"
        continue
      fi
      failed+=("$pkg $f")
      break
    done
  done
done
echo "fuzz: $n targets"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzz: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
