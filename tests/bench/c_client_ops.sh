#!/usr/bin/env bash
# Builds (once) and runs tests/bench/c_client_ops.c against libzookeeper_mt (Debian's
# libzookeeper-mt-dev, installed by tools/install-deps --test). Arguments: HOST:PORT get|set N SECONDS.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="${TMPDIR:-/tmp}/paddock-c-client-ops"
if [ ! -x "$binary" ] || [ "$here/c_client_ops.c" -nt "$binary" ]; then
  cc -O2 -DTHREADED -Wall -Wextra -Werror -o "$binary" "$here/c_client_ops.c" -lzookeeper_mt
fi
exec "$binary" "$@"
