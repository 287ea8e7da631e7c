#!/usr/bin/env bash
# `npm start`: install what is missing, build, and run the daemon in the foreground.
# Without ETCD_ENDPOINTS the daemon starts its own single-node etcd on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/ensure-deps.sh
exec node dist/src/cli/main.js serve "$@"
