#!/usr/bin/env bash
# `npm run bench -- <scenario> [options]`: install what is missing, build, run a benchmark scenario.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/ensure-deps.sh >&2
# A larger young generation: allocation-heavy request handling otherwise spends ~14% of its time in scavenges.
exec node --max-semi-space-size=32 dist/bench/main.js "$@"
