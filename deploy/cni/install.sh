#!/bin/sh
# Installs the ipam-es CNI plugin on a node: the DaemonSet's init container runs this with the host's CNI binary
# directory (/opt/cni/bin) mounted at $CNI_BIN_DIR (default /host/opt/cni/bin).
#   IPAM_ES_PLUGIN  the binary to install (default: dist/cni/ipam-es next to this script's repository)
#   CNI_BIN_DIR     where the host's /opt/cni/bin is mounted
set -eu
here=$(dirname "$0")
src="${IPAM_ES_PLUGIN:-$here/../../dist/cni/ipam-es}"
dest="${CNI_BIN_DIR:-/host/opt/cni/bin}"
if [ ! -x "$src" ]; then
  echo "install: $src is missing or not executable (npm run build makes it)" >&2
  exit 1
fi
if [ ! -d "$dest" ]; then
  echo "install: $dest does not exist: mount the host's /opt/cni/bin there (hostPath), or set CNI_BIN_DIR" >&2
  exit 1
fi
# Copy beside, then rename: the runtime may exec the plugin at any moment and must see a whole binary, old or new.
tmp="$dest/.ipam-es.$$"
trap 'rm -f "$tmp"' EXIT
cp "$src" "$tmp"
chmod 0755 "$tmp"
mv -f "$tmp" "$dest/ipam-es"
trap - EXIT
echo "install: ipam-es installed in $dest"
