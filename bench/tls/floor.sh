#!/usr/bin/env bash
# The floor under the handshake columns: resumed and full-handshake CPU per request of FloorServer.java (Netty +
# netty-tcnative's BoringSSL answering a fixed 302, no upstream), of clicktls and of HAProxy, measured with
# compare.sh's two handshake loads, one process at a time, alternating, and printed with their ratios to HAProxy.
# If the floor's ratio is at or above a goal, no design on this stack meets that goal.
#
#   bench/tls/floor.sh --jar JAR --dir KEPT_DIR [--warmup 15] [--duration 10] [--rounds 2] [--floor-port 18090]
#
# KEPT_DIR is a directory left by `bench/compare.sh --keep` (certificates, clicktls/clicktls.yml, haproxy/haproxy.cfg,
# sni.lua, nginx config); its nginx must be running on the config's upstream port. The full-handshake window is twice
# --duration (a load of 300 new connections/s is a small sample). Wrap in `flock /work/bench.lock`.
set -euo pipefail
JAR=""; DIR=""; WARMUP=15; DURATION=10; ROUNDS=2; FLOOR_PORT=18090; FLAGS=""; FLAGS_GIVEN=0
while [ $# -gt 0 ]; do
    case "$1" in
        --jar) JAR=$2; shift ;;
        --dir) DIR=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        --floor-port) FLOOR_PORT=$2; shift ;;
        --jvm-flags) FLAGS=$2; FLAGS_GIVEN=1; shift ;;
        *) echo "unknown option $1" >&2; exit 64 ;;
    esac
    shift
done
[ -f "$JAR" ] && [ -f "$DIR/clicktls/clicktls.yml" ] && [ -f "$DIR/haproxy/haproxy.cfg" ] \
    || { echo "need --jar and --dir (see the header)" >&2; exit 64; }
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh"
[ "$FLAGS_GIVEN" -eq 1 ] || FLAGS=$CLICKTLS_JVM_FLAGS # README's, unless --jvm-flags
# shellcheck source=bench/tls/loads.sh
. "$HERE/loads.sh"
NAME=links.shop.test
CLICKTLS_PORT=$(port_of https: "$DIR/clicktls/clicktls.yml")
HAPROXY_PORT=$(port_of bind "$DIR/haproxy/haproxy.cfg")
WORK=$(mktemp -d) # removed by lib.sh's exit trap, which also stops the server left running

start() { # name -> sets PID and PORT, returns once a request is answered
    case $1 in
        floor)
            PORT=$FLOOR_PORT
            start_server "$WORK/floor.log" java $FLAGS -cp "$JAR" "$HERE/FloorServer.java" "$PORT" \
                "$DIR/pki/chain.pem" "$DIR/pki/leaf.key" ;;
        clicktls)
            PORT=$CLICKTLS_PORT
            start_server "$WORK/clicktls.log" java $FLAGS -jar "$JAR" run --config "$DIR/clicktls/clicktls.yml" ;;
        haproxy)
            PORT=$HAPROXY_PORT
            start_server "$WORK/haproxy.log" haproxy -db -f "$DIR/haproxy/haproxy.cfg" ;;
    esac
    PID=$STARTED_PID
    for _ in $(seq 200); do
        curl -sk --resolve "$NAME:$PORT:127.0.0.1" -o /dev/null "https://$NAME:$PORT/" && return 0
        kill -0 "$PID" 2>/dev/null || break # exited: no point waiting
        sleep 0.1
    done
    cat "$WORK/$1.log" >&2
    die "$1 did not answer on port $PORT"
}
cpu_per_request() { # kind seconds -> µs of the process's utime+stime per completed request
    local t0 t1 reqs
    t0=$(cpu_ticks "$PID")
    reqs=$(load "$1" "$2")
    t1=$(cpu_ticks "$PID")
    awk -v t="$((t1 - t0))" -v r="$reqs" -v tick="$TICK_US" 'BEGIN { printf "%.0f", (r > 0 ? t * tick / r : -1) }'
}

printf '%-9s %-9s %13s %10s\n' round server 'resumed µs' 'full µs'
for round in $(seq "$ROUNDS"); do
    for server in floor clicktls haproxy; do
        start "$server"
        load resumed "$WARMUP" >/dev/null
        load full "$WARMUP" >/dev/null
        load resumed 5 >/dev/null
        resumed=$(cpu_per_request resumed "$DURATION")
        full=$(cpu_per_request full $((2 * DURATION)))
        stop_server "$PID"
        printf '%-9s %-9s %13s %10s\n' "$round" "$server" "$resumed" "$full" | tee -a "$WORK/table"
    done
done
echo
echo "ratios to HAProxy (same round):"
awk '{ r[$1, $2] = $3; f[$1, $2] = $4; rounds[$1] = 1 }
     END { for (k in rounds) for (s = 1; s <= 2; s++) { name = s == 1 ? "floor" : "clicktls"
             printf "round %s %-9s resumed %.2fx  full %.2fx\n", k, name, r[k, name] / r[k, "haproxy"], f[k, name] / f[k, "haproxy"] } }' \
    "$WORK/table" | sort
