#!/usr/bin/env bash
# .ci/run must run the README's test command exactly: the one command line of the second ```sh block under
# "## The two commands" must be the command .ci/run executes (its last line, after `exec`).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
readme_cmd=$(awk '/^## The two commands/ {on = 1; next} on && /^## / {exit}
                  on && /^```sh$/ {blk++; inblk = 1; next} on && inblk && /^```$/ {inblk = 0; next}
                  on && inblk && blk == 2 {print}' README.md)
ci_cmd=$(grep -v '^[[:space:]]*#' .ci/run | grep -v '^[[:space:]]*$' | tail -n 1 | sed 's/^exec //')
echo "README test command: '$readme_cmd'"
echo ".ci/run runs:        '$ci_cmd'"
if [ -z "$readme_cmd" ] || [ "$(printf '%s\n' "$readme_cmd" | wc -l)" -ne 1 ]; then
  echo "FAIL: the README's second command block under '## The two commands' is not one line"
  exit 1
fi
if [ "$readme_cmd" != "$ci_cmd" ]; then
  echo "FAIL: .ci/run runs '$ci_cmd', the README's test command is '$readme_cmd'"
  exit 1
fi
[ -x .ci/run ] || { echo "FAIL: .ci/run is not executable"; exit 1; }
echo "test_ci_command: 1 passed, 0 failed"
