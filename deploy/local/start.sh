#!/usr/bin/env bash
# `npm start`: install what is missing, build, and run the daemon in the foreground.
# Without ETCD_ENDPOINTS the daemon starts its own single-node etcd on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/ensure-deps.sh
# A 16 MB young generation: with V8's default, request handling spends ~14% of its time in scavenges; with 32 MB each
# scavenge copies twice the surviving allocations (10-20 ms pauses with two daemons on one etcd: a p99 cost).
# A fixed malloc mmap threshold: glibc raises it after every large free, so the cold start's range responses (MBs
# each) then come from the heap arenas and stay resident after they are freed (bench daemon-memory: -29 MB RSS).
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-131072}"
exec node --max-semi-space-size=16 dist/src/cli/main.js serve "$@"
