#!/usr/bin/env bash
# `npm run bench -- <scenario> [options]`: install what is missing, build, run a benchmark scenario.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/ensure-deps.sh >&2
# A larger young generation: allocation-heavy request handling otherwise spends ~14% of its time in scavenges.
# The soak measures the engine's memory as the daemon runs it: the daemon's young generation (16 MB, start.sh), whose
# RSS moved +-5 MB from 40,000 cycles on, where 32 MB moved it by up to 30 MB between samples.
semi=32
[ "${1:-}" = soak ] && semi=16
# --expose-gc: soak samples its RSS after a full GC (retained memory, not garbage the collector has not reached yet).
exec node --max-semi-space-size=$semi --expose-gc dist/bench/main.js "$@"
