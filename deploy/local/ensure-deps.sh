#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine, then builds. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v kubectl >/dev/null 2>&1 || need+=(kubernetes-client)       # the API tests drive the daemon with kubectl
[ -x /usr/lib/cni/host-local ] || need+=(containernetworking-plugins) # bridge, host-local: CNI end-to-end and bench
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)                 # builds the CNI plugin's small C client
command -v wrk >/dev/null 2>&1 || need+=(wrk)                           # `bench http`'s load generator
command -v chromium >/dev/null 2>&1 || need+=(chromium)                 # the web console's tests drive it (playwright-core)
command -v zsh >/dev/null 2>&1 || need+=(zsh)                           # `ipam completion zsh` is checked with zsh -n
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm ci only when the lock's content changed since the last install (content, not mtime: a fresh checkout or
# a git worktree sharing node_modules must not reinstall, and so wipe, what is already right).
want=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.ipam-lock-sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
npm run --silent build
