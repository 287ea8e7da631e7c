#!/usr/bin/env bash
# `npm run bench -- <scenario> [options]`: install what is missing, build, run a benchmark scenario.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/ensure-deps.sh >&2
exec node dist/bench/main.js "$@"
