#!/usr/bin/env bash
# `npm test`: install what is missing, build, start real etcd and Redis, run the ava suite, stop them.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/ensure-deps.sh
exec node dist/src/local/with-services.js --redis -- npx ava "$@"
