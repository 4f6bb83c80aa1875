#!/usr/bin/env bash
# The README's PaddockClient throughput table: for each point (get/set x 1/100 in flight), the raw
# protocol, PaddockClient on the global executor and on its own loop, the C client and kazoo,
# one after the other, for ROUNDS rounds. Run against a release server:
#     tests/bench/client_table.sh 127.0.0.1:2181 [ROUNDS]
# Needs a release build (swift build -c release --product paddock), kazoo and libzookeeper-mt-dev
# (tools/install-deps --test); PADDOCK_RELEASE_BIN names another release binary. Not a test.
set -uo pipefail
host="${1:?usage: client_table.sh HOST:PORT [ROUNDS]}"
rounds="${2:-3}"
here="$(cd "$(dirname "$0")" && pwd)"
paddock="${PADDOCK_RELEASE_BIN:-$here/../../.build/release/paddock}"
for round in $(seq 1 "$rounds"); do
  for point in "get 1" "get 100" "set 1" "set 100"; do
    set -- $point
    op=$1 n=$2
    raw=$("$paddock" bench load --hosts "$host" --op "$op" --sessions 1 --inflight "$n" --seconds 5 --warmup 1 --znodes 1 2>/dev/null | grep "ops/s")
    client=$("$paddock" bench client --server "$host" --op "$op" --inflight "$n" --seconds 5 --warmup 1 2>/dev/null | tail -1)
    loop=$("$paddock" bench client --server "$host" --op "$op" --inflight "$n" --seconds 5 --warmup 1 --on-client-loop 2>/dev/null | tail -1)
    c=$("$here/c_client_ops.sh" "$host" "$op" "$n" 5 2>/dev/null | tail -1)
    kazoo=$(python3 "$here/kazoo_ops.py" "$host" "$op" "$n" 5 2>/dev/null | tail -1)
    echo "round $round | $op x$n | raw: $raw | client: $client | loop: $loop | C: $c | kazoo: $kazoo"
  done
done
