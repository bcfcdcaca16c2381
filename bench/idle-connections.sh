#!/usr/bin/env bash
# Memory per idle TLS connection: HAProxy and clicktls, one after the other in one run, each fresh, get COUNT
# (default 20,000) TLS 1.3 connections that each make one request (HTTP/1.1 keep-alive, or h2) and then sit idle, as
# a browser's connection does after a click. The RSS growth of the server per open connection is printed for each,
# with clicktls ÷ HAProxy (issue 17's goal: ≤ 1.5×). See bench/README.md.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/idle-connections.sh [options]

  --count N             idle connections per server and protocol (default: 20000; capped at the open-file
                        limit minus 300, since the server holds one descriptor per connection)
  --protocols LIST      h1, h2 or both (default: h1,h2)
  --only LIST           servers, comma separated (default: haproxy,clicktls)
  --warm N              connections made (and closed) before the baseline reading, so that pools, the JIT and
                        the TLS context are set up before it (default: 1000)
  --concurrent N        connections being set up at once per client process (default: 100)
  --no-build            do not run `mvn -B -q package -DskipTests` first
  --repo DIR            clicktls source tree to build and run (default: this script's repository)
  --jar FILE            clicktls jar to run (default: DIR/proxy/target/clicktls.jar)
  --jvm-flags "FLAGS"   JVM flags for clicktls (default: README's, readme_jvm_flags in lib.sh)
  --port-base N         first port to try (default: 18400)
  --results DIR         where raw output goes (default: bench/results/idle-<timestamp>)
  --keep                keep the temporary directory
EOF
}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
BUILD=1
COUNT=20000
PROTOCOLS=h1,h2
ONLY=haproxy,clicktls
WARM=1000
CONCURRENT=100
JAR=""
JVM_FLAGS=""
JVM_FLAGS_GIVEN=0 # else README's (lib.sh's readme_jvm_flags)
PORT_BASE=18400
RESULTS=""
KEEP=0
NAME=links.shop.test
# One client process holds at most this many connections: the open-file limit is per process (20,000 here, and
# not raisable without CAP_SYS_RESOURCE), and each process connects from its own 127.0.0.x address, so the
# ephemeral ports (32768-60999) of one source address are never the limit either.
PER_CLIENT=10000
# clicktls closes a connection idle for 60 s (ProxySettings.keepAliveIdle): the ramp must be over well before the
# first connections reach that, and the reading is taken right after it.
RAMP_LIMIT=45
HOLD=10 # after the ramp limit: the clients let go 55 s after their start, unless stopped after the reading

# shellcheck source=bench/options.sh
. "$BENCH_DIR/options.sh"
while [ $# -gt 0 ]; do
    case "$1" in
        --count) COUNT=$2; shift ;;
        --protocols) PROTOCOLS=$2; shift ;;
        --only) ONLY=$2; shift ;;
        --warm) WARM=$2; shift ;;
        --concurrent) CONCURRENT=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *)
            common_option "$@" || { echo "idle-connections.sh: unknown option $1" >&2; usage >&2; exit 64; }
            shift $((COMMON_WORDS - 1))
            ;;
    esac
    shift
done
JAR=${JAR:-$REPO/proxy/target/clicktls.jar}
RESULTS=${RESULTS:-$BENCH_DIR/results/idle-$(date +%Y%m%d-%H%M%S)}
whole_numbers idle-connections.sh "$COUNT" "$WARM" "$CONCURRENT" "$PORT_BASE"
IFS=, read -r -a SERVERS <<< "$ONLY"
IFS=, read -r -a PROTOS <<< "$PROTOCOLS"
for s in "${SERVERS[@]}"; do case "$s" in haproxy|clicktls) ;; *) echo "unknown server $s" >&2; exit 64 ;; esac; done
for p in "${PROTOS[@]}"; do case "$p" in h1|h2) ;; *) echo "unknown protocol $p" >&2; exit 64 ;; esac; done

# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
[ "$JVM_FLAGS_GIVEN" -eq 1 ] || JVM_FLAGS=$(readme_jvm_flags "$JAR")
# shellcheck source=bench/servers.sh
. "$BENCH_DIR/servers.sh"

for tool in haproxy nginx java curl openssl ss; do command -v "$tool" >/dev/null || die "$tool is needed"; done
LIMIT=$(ulimit -n)
if [ "$COUNT" -gt $((LIMIT - 300)) ]; then
    log "the open-file limit is $LIMIT: $((LIMIT - 300)) connections instead of $COUNT (per-connection figures are unaffected)"
    COUNT=$((LIMIT - 300))
fi
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
WORK=$(mktemp -d /tmp/clicktls-idle.XXXXXX)
if [[ ,$ONLY, == *,clicktls,* ]]; then build_clicktls; fi
[ -f "$JAR" ] || die "no clicktls jar at $JAR (the client runs on its Netty too)"

# HAProxy: room for the connections, and no idle timeout shorter than the run (its default here would be 30 s)
HAPROXY_MAXCONN=$((COUNT + 200))
HAPROXY_CLIENT_TIMEOUT=5m
# HAProxy reserves two descriptors per connection (client and server side) and by default refuses to start when it
# cannot raise its limit to that; idle client connections need only one, so it may run with what the limit allows
HAPROXY_GLOBAL_EXTRA="no strict-limits"
# clicktls builds that cap client connections (`limits.max_connections`, by default half of the descriptors left
# after a reserve: ~9,400 at a limit of 20,000) get room for the test's connections, as HAProxy gets its maxconn;
# builds that do not know the key would refuse the config, so `check` is asked first
if [[ ,$ONLY, == *,clicktls,* ]]; then
    mkdir -p "$WORK/check"
    printf 'listen:\n  https: 127.0.0.1:1\nstorage:\n  directory: %s\nplatforms:\n  p:\n    upstream: http://127.0.0.1:1\ndomains:\n  - name: %s\n    platform: p\nlimits:\n  max_connections: %d\n' \
        "$WORK/check/storage" "$NAME" $((COUNT + 200)) > "$WORK/check/limits.yml"
    if java -jar "$JAR" check --config "$WORK/check/limits.yml" >"$WORK/check/out.txt" 2>&1; then
        CLICKTLS_EXTRA_CONFIG=$(printf 'limits:\n  max_connections: %d' $((COUNT + 200)))
        log "clicktls: limits.max_connections $((COUNT + 200))"
    elif grep -q 'limits' "$WORK/check/out.txt"; then
        log "clicktls: this build has no limits.max_connections; none set"
    else
        cat "$WORK/check/out.txt" >&2
        die "clicktls check refused the probe config"
    fi
fi

# Runs COUNT connections of PROTOCOL against PROXY_PORT in client processes of PER_CLIENT each, which hold them until
# HOLD seconds after RAMP_LIMIT; returns once every client says it is holding (its ramp is over). Outputs in $1.*.
CLIENT_PIDS=()
start_clients() {
    local out=$1 protocol=$2 count=$3 hold=$4 i=0 n
    CLIENT_PIDS=()
    while [ "$count" -gt 0 ]; do
        n=$(( count < PER_CLIENT ? count : PER_CLIENT ))
        start_load "$out.$i" timeout $((RAMP_LIMIT + hold + 30)) java -Xmx512m -XX:+UseSerialGC \
            -XX:TieredStopAtLevel=1 -cp "$JAR" "$BENCH_DIR/idle/IdleClient.java" 127.0.0.1 "$PROXY_PORT" "$NAME" \
            "$protocol" "$n" "127.0.0.$((10 + i))" "$CONCURRENT" "$hold" "$RAMP_LIMIT"
        CLIENT_PIDS+=("$STARTED_PID")
        count=$((count - n)); i=$((i + 1))
    done
    for i in "${!CLIENT_PIDS[@]}"; do
        while ! grep -q '^holding' "$out.$i" 2>/dev/null; do
            kill -0 "${CLIENT_PIDS[$i]}" 2>/dev/null || { cat "$out.$i" >&2; die "client $i stopped before the ramp ended"; }
            sleep 0.5
        done
    done
}
wait_clients() { local pid; for pid in "${CLIENT_PIDS[@]}"; do wait_load "$pid" || true; done; }

established() { ss -Htn state established "( sport = :$PROXY_PORT )" | wc -l; }

TABLE=$RESULTS/idle.tsv
: > "$TABLE"
measure_idle() {
    local server=$1 protocol=$2 out rss0 rss1 open started seconds
    out=$RESULTS/$server-$protocol
    log "$server $protocol: starting"
    "start_$server"
    wait_ready "$server"
    start_clients "$out-warm" "$protocol" "$WARM" 0
    wait_clients
    sleep 3
    rss0=$(memory_kb "$PROXY_PID" VmRSS)
    started=$SECONDS
    start_clients "$out-idle" "$protocol" "$COUNT" "$HOLD"
    seconds=$((SECONDS - started))
    sleep 3
    rss1=$(memory_kb "$PROXY_PID" VmRSS)
    open=$(established)
    kill -0 "$PROXY_PID" 2>/dev/null || die "$server died (see $RESULTS/$server.log)"
    local pid
    for pid in "${CLIENT_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$protocol" "$open" "$rss0" "$rss1" "$seconds" "$PROXY_VERSION" >> "$TABLE"
    log "$server $protocol: $open connections open after a ${seconds}s ramp; RSS $((rss0 / 1024)) -> $((rss1 / 1024)) MiB, $(awk -v a="$rss0" -v b="$rss1" -v n="$open" 'BEGIN { printf "%.1f", (n > 0 ? (b - a) / n : 0) }') KiB per connection"
    wait_clients
    stop_server "$PROXY_PID"
}

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(uname -r), $(free -g | awk '/^Mem:/{print $2}') GiB"
    echo "idle connections: $COUNT per server and protocol (one request each, then idle), after $WARM made and closed"
    echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$RESULTS/environment.txt" >&2

make_certificate
start_nginx
for protocol in "${PROTOS[@]}"; do
    for server in "${SERVERS[@]}"; do measure_idle "$server" "$protocol"; done
done
stop_server "$NGINX_PID"

{
    echo
    cat "$RESULTS/environment.txt"
    echo
    echo "| server | protocol | connections open | RSS before | RSS with them open | growth per connection |"
    echo "| --- | --- | --- | --- | --- | --- |"
    awk -F'\t' '{ printf "| %s | %s | %d | %d MiB | %d MiB | %.1f KiB |\n", $7, $2, $3, $4 / 1024, $5 / 1024, ($3 > 0 ? ($5 - $4) / $3 : 0) }' "$TABLE"
    awk -F'\t' '
        { g[$1, $2] = $3 > 0 ? ($5 - $4) / $3 : 0; p[$2] = 1 }
        END { for (q in p) if (g["haproxy", q] > 0 && (("clicktls", q) in g)) {
                r = g["clicktls", q] / g["haproxy", q]
                printf "| clicktls ÷ HAProxy, %s (goal ≤ 1.5×) | | | | | %.2f× %s |\n", q, r, r <= 1.5 ? "✓" : "✗" } }' "$TABLE" | sort
    echo
    echo "Growth: VmRSS of the server process with the connections open (3 s after the last one got its answer)"
    echo "minus VmRSS before them, divided by the connections established (ss) at the reading. Each connection"
    echo "made one request (GET /click/abc, answered 302 by nginx through the proxy) and was then left idle."
    awk -F'\t' '{ printf "%s %s: ramp %ss\n", $1, $2, $6 }' "$TABLE"
    awk -F'\t' -v count="$COUNT" '$3 < 0.9 * count { printf "warning: %s %s: only %d of %d connections open at the reading (the ramp stops at %ss; a busy machine)\n", $1, $2, $3, count, limit }' limit="$RAMP_LIMIT" "$TABLE"
} | tee "$RESULTS/table.md"
