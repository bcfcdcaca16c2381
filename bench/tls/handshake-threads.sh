#!/usr/bin/env bash
# Where a handshake load's CPU goes, thread by thread: runs compare.sh's sequence of loads (keep-alive, resumed,
# full handshakes; warm-up then measured window each) against one clicktls process and prints, for each measured
# window, the CPU per request of each group of threads (event loops, C2/C1 compilers, GC, the rest) from
# /proc/PID/task/*/stat, and the young-GC churn from a GC log (MB allocated per request).
#
#   bench/tls/handshake-threads.sh --jar JAR --dir KEPT_DIR [--warmup 4] [--duration 8] [--rounds 1]
#
# KEPT_DIR is a directory left by `bench/compare.sh --keep` (certificates, clicktls/clicktls.yml, sni.lua, nginx
# config); its nginx must be running on the config's upstream port. Wrap in `flock /work/bench.lock`.
set -euo pipefail
JAR=""; DIR=""; WARMUP=4; DURATION=8; ROUNDS=1; FLAGS=""; FLAGS_GIVEN=0
while [ $# -gt 0 ]; do
    case "$1" in
        --jar) JAR=$2; shift ;;
        --dir) DIR=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        --jvm-flags) FLAGS=$2; FLAGS_GIVEN=1; shift ;;
        *) echo "unknown option $1" >&2; exit 64 ;;
    esac
    shift
done
[ -f "$JAR" ] && [ -f "$DIR/clicktls/clicktls.yml" ] || { echo "need --jar and --dir (see the header)" >&2; exit 64; }
HERE=$(cd "$(dirname "$0")" && pwd)
# README's JVM flags (lib.sh's CLICKTLS_JVM_FLAGS) unless --jvm-flags; lib.sh is read in a subshell for its traps
[ "$FLAGS_GIVEN" -eq 1 ] || FLAGS=$(bash -c '. "$1/../lib.sh"; printf %s "$CLICKTLS_JVM_FLAGS"' _ "$HERE")
# shellcheck source=bench/tls/loads.sh
. "$HERE/loads.sh"
PORT=$(port_of https: "$DIR/clicktls/clicktls.yml")
NAME=links.shop.test
WORK=$(mktemp -d)
java $FLAGS -Xlog:gc:file="$WORK/gc.log" -jar "$JAR" run --config "$DIR/clicktls/clicktls.yml" >"$WORK/clicktls.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do
    curl -sk --resolve "$NAME:$PORT:127.0.0.1" -o /dev/null "https://$NAME:$PORT/" && break
    sleep 0.1
done

ticks() { # tid name ticks, one line per thread
    for t in /proc/"$PID"/task/*; do
        line=$(cat "$t/stat" 2>/dev/null) || continue
        name=${line#*(}; name=${name%)*}; rest=${line##*) }
        set -- $rest
        printf '%s\t%s\t%d\n' "${t##*/}" "$name" $(( ${12} + ${13} ))
    done
}
young_mb() { # MB collected by young GCs so far: sum of (before - after) of each pause
    awk '/Pause Young/ { split($(NF-1), a, "->"); b = a[1]; sub(/M/, "", b); c = a[2]; sub(/M.*/, "", c); s += b - c }
         END { print s + 0 }' "$WORK/gc.log"
}
printf '%-9s %6s %7s %7s %7s %7s %7s %7s   %s\n' load reqs 'µs/req' loops C2 C1 GC other 'KB alloc/req'
for _ in $(seq "$ROUNDS"); do
    for kind in keepalive resumed full; do
        load "$kind" "$WARMUP" >/dev/null
        before=$(ticks); mb0=$(young_mb)
        reqs=$(load "$kind" "$DURATION")
        after=$(ticks); mb1=$(young_mb)
        # µs per request per group; 1 tick = 10 ms
        awk -F'\t' -v reqs="$reqs" -v kind="$kind" -v mb="$(awk -v a="$mb0" -v b="$mb1" 'BEGIN {print b - a}')" '
            NR == FNR { b[$1] = $3; next }
            { d = $3 - ($1 in b ? b[$1] : 0); n = $2
              g = n ~ /EventLoop|IoEv/ ? "loops" : n ~ /^C2 / ? "C2" : n ~ /^C1 / ? "C1" : n ~ /GC Thread|VM Thread/ ? "GC" : "other"
              s[g] += d; t += d }
            END { f = 10000 / reqs
                  printf "%-9s %6d %7.0f %7.0f %7.0f %7.0f %7.0f %7.0f   %.1f\n", kind, reqs, t * f, s["loops"] * f,
                      s["C2"] * f, s["C1"] * f, s["GC"] * f, s["other"] * f, mb * 1024 / reqs }' \
            <(echo "$before") <(echo "$after")
    done
done
