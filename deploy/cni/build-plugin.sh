#!/bin/sh
# Builds the CNI plugin binary, a small static C client, into dist/cni/ipam-es (part of `npm run build`).
# Static, so the DaemonSet's init container can copy it onto any Linux node whatever its libc.
set -eu
cd "$(dirname "$0")/../.."
mkdir -p dist/cni
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -s -Wall -Wextra -Werror -static -o dist/cni/ipam-es.tmp src/cni/client/ipam-es.c
mv dist/cni/ipam-es.tmp dist/cni/ipam-es
