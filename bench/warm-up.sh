#!/usr/bin/env bash
# How soon a freshly started clicktls clicks at its steady cost: the h2 click load of compare.sh (new connection,
# full TLS 1.3 handshake, ALPN h2, one GET answered 302 by nginx through the proxy) at a fixed rate from the moment
# the proxy answers, with the proxy's CPU per click in consecutive windows (default 5 s for 60 s), then a longer
# stretch of the same load as its steady cost. Reports the first window within 20% of the steady cost (issue 17's
# goal: within 15 s of load). See bench/README.md.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/warm-up.sh [options]

  --seconds N           length of the windowed part from the start of the load (default: 60)
  --window N            window length in seconds (default: 5)
  --steady N            then this many more seconds of the same load, measured as one window: the steady cost
                        (default: 60; a settled cost needs the JIT to be done, ~40-90 s of h2 clicks)
  --within PERCENT      "warm" is a window within this much of the steady cost (default: 20)
  --rate N              new connections (clicks) per second (default: 300, compare.sh's --handshake-rate)
  --no-build            do not run `mvn -B -q package -DskipTests` first
  --repo DIR            clicktls source tree to build and run (default: this script's repository)
  --jar FILE            clicktls jar to run (default: DIR/proxy/target/clicktls.jar)
  --jvm-flags "FLAGS"   JVM flags for clicktls (default: README's, readme_jvm_flags in lib.sh)
  --port-base N         first port to try (default: 18500)
  --results DIR         where raw output goes (default: bench/results/warm-up-<timestamp>)
  --keep                keep the temporary directory
EOF
}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
BUILD=1
SECONDS_WINDOWED=60
WINDOW=5
STEADY=60
WITHIN=20
RATE=300
JAR=""
JVM_FLAGS=""
JVM_FLAGS_GIVEN=0 # else README's (lib.sh's readme_jvm_flags)
PORT_BASE=18500
RESULTS=""
KEEP=0
NAME=links.shop.test

# shellcheck source=bench/options.sh
. "$BENCH_DIR/options.sh"
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECONDS_WINDOWED=$2; shift ;;
        --window) WINDOW=$2; shift ;;
        --steady) STEADY=$2; shift ;;
        --within) WITHIN=$2; shift ;;
        --rate) RATE=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *)
            common_option "$@" || { echo "warm-up.sh: unknown option $1" >&2; usage >&2; exit 64; }
            shift $((COMMON_WORDS - 1))
            ;;
    esac
    shift
done
JAR=${JAR:-$REPO/proxy/target/clicktls.jar}
RESULTS=${RESULTS:-$BENCH_DIR/results/warm-up-$(date +%Y%m%d-%H%M%S)}
whole_numbers warm-up.sh "$SECONDS_WINDOWED" "$WINDOW" "$STEADY" "$WITHIN" "$RATE" "$PORT_BASE"
[ "$WINDOW" -ge 1 ] && [ "$SECONDS_WINDOWED" -ge "$WINDOW" ] && [ "$STEADY" -ge 1 ] && [ "$RATE" -ge 50 ] \
    || { echo "warm-up.sh: window >= 1, seconds >= window, steady >= 1, rate >= 50" >&2; exit 64; }

# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
[ "$JVM_FLAGS_GIVEN" -eq 1 ] || JVM_FLAGS=$(readme_jvm_flags "$JAR")
# shellcheck source=bench/servers.sh
. "$BENCH_DIR/servers.sh"

for tool in nginx h2load java curl openssl; do command -v "$tool" >/dev/null || die "$tool is needed"; done
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
WORK=$(mktemp -d /tmp/clicktls-warm-up.XXXXXX)
build_clicktls

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(uname -r)"
    echo "load: h2 clicks (h2load, ALPN h2, one GET per new connection) at $(( (RATE + 25) / 50 * 50 ))/s from the moment the proxy answers; ${WINDOW}s windows for ${SECONDS_WINDOWED}s, then ${STEADY}s as the steady cost"
    echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$RESULTS/environment.txt" >&2
if awk '{exit !($1 > 0.5)}' /proc/loadavg; then
    log "warning: the machine is busy (load average $(cut -d' ' -f1 /proc/loadavg)); numbers will be noisy"
fi

make_certificate
start_nginx
start_clicktls
wait_ready clicktls

# One h2load for the whole run; the proxy's CPU is read at every window's edge, and each click is counted in the
# window in which it got its answer (h2load's per-request log: start in µs since the epoch, status, duration).
TOTAL=$((SECONDS_WINDOWED + STEADY))
PER_TICK=$(( (RATE + 25) / 50 ))
CLICKS=$((PER_TICK * 50 * TOTAL))
EDGES=$RESULTS/edges.txt
: > "$EDGES"
now_us() { date +%s%6N; }
printf '%s %s\n' "$(now_us)" "$(cpu_ticks "$PROXY_PID")" >> "$EDGES"
start_load "$RESULTS/h2load.txt" timeout $((TOTAL * 3 + 30)) h2load -m 1 -c "$CLICKS" -n "$CLICKS" -r "$PER_TICK" \
    --rate-period 20ms -N 10s --log-file="$RESULTS/h2load.requests" --connect-to "127.0.0.1:$PROXY_PORT" "$(url)"
H2LOAD_PID=$STARTED_PID
T0=$(head -n1 "$EDGES" | cut -d' ' -f1)
for edge in $(seq "$WINDOW" "$WINDOW" "$SECONDS_WINDOWED") "$TOTAL"; do
    # sleep to the edge, measured from the first reading so that the windows do not drift
    sleep "$(awk -v t0="$T0" -v now="$(now_us)" -v e="$edge" 'BEGIN { s = (t0 + e * 1000000 - now) / 1000000; print (s > 0 ? s : 0) }')"
    printf '%s %s\n' "$(now_us)" "$(cpu_ticks "$PROXY_PID")" >> "$EDGES"
    kill -0 "$PROXY_PID" 2>/dev/null || die "clicktls died (see $RESULTS/clicktls.log)"
done
wait_load "$H2LOAD_PID" || true
grep -q '^Application protocol: h2$' "$RESULTS/h2load.txt" || die "the load did not negotiate h2 (see $RESULTS/h2load.txt)"
stop_server "$PROXY_PID"
stop_server "$NGINX_PID"

# windows: "from_s to_s clicks cpu_us_per_click"; the last line is the steady stretch
awk -v tick="$TICK_US" '
    FNR == NR { t[NR] = $1; c[NR] = $2; n = NR; next }
    $2 >= 200 && $2 < 400 {
        end = $1 + $3
        for (i = 1; i < n; i++) if (end >= t[i] && end < t[i + 1]) { clicks[i]++; break }
    }
    END { for (i = 1; i < n; i++) printf "%.0f %.0f %d %.0f\n", (t[i] - t[1]) / 1e6, (t[i + 1] - t[1]) / 1e6, clicks[i],
              (clicks[i] > 0 ? (c[i + 1] - c[i]) * tick / clicks[i] : 0) }' \
    "$EDGES" "$RESULTS/h2load.requests" > "$RESULTS/windows.txt"

{
    echo
    cat "$RESULTS/environment.txt"
    echo "clicktls: $PROXY_VERSION"
    echo
    awk -v within="$WITHIN" '
        { from[NR] = $1; to[NR] = $2; clicks[NR] = $3; cost[NR] = $4; n = NR }
        END {
            steady = cost[n]
            printf "steady cost: %d µs CPU per click (%ss to %ss of load, %d clicks)\n\n", steady, from[n], to[n], clicks[n]
            print "| window (s of load) | clicks | CPU µs per click | ÷ steady |"
            print "| --- | --- | --- | --- |"
            warm = ""
            for (i = 1; i < n; i++) {
                r = steady > 0 ? cost[i] / steady : 0
                printf "| %d–%d | %d | %d | %.2f× |\n", from[i], to[i], clicks[i], cost[i], r
                if (warm == "" && steady > 0 && r <= 1 + within / 100) warm = i
            }
            print ""
            if (warm == "") printf "not within %d%% of the steady cost in the first %ss of load\n", within, to[n - 1]
            else printf "within %d%% of the steady cost from the window ending at %ss of load (goal: within 15 s) %s\n",
                within, to[warm], to[warm] <= 15 ? "✓" : "✗"
        }' "$RESULTS/windows.txt"
    echo
    echo "CPU: utime+stime of the clicktls process (all threads) from /proc/PID/stat at each window's edge, divided by"
    echo "the clicks answered (302) in that window. The windows start when the freshly started proxy first answered."
} | tee "$RESULTS/table.md"
