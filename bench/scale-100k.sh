#!/usr/bin/env bash
# 100,000 domains on one node: generates a config whose domains_file lists 100,000 names and a storage folder with
# one certificate per domain, then measures clicktls against the issue's figures:
#   - start to serving: from the process start to the first 302 over TLS for a name whose certificate is only in
#     storage (curl polling every 50 ms);
#   - handshakes for names not in memory (once the index scan of storage is done): HandshakeProbe, one new
#     connection per name, each name once, one at a time, its client warmed up first: p50/p99 of the server's reply
#     (ClientHello written → first byte of the server's flight: the server's whole share) and of the handshake (TCP
#     connected to TLS done, adding the JDK client's crypto); then the same names again, now in memory, as the
#     baseline of what the handshake costs without storage;
#   - RSS under load: many more names at 8 connections at once (filling the certificate and TLS context caches)
#     while wrk keeps 50 keep-alive connections busy on one name; peak RSS sampled twice a second, and VmHWM;
#   - config reload: a name appended to the 100,000-line domains_file while wrk runs; time from the write to the
#     proxy's "reloaded" log line (includes the watcher's 200 ms debounce); wrk's errors show dropped connections.
# The data set (~1.6 GB on disk for 100,000 entries: 4 KiB blocks) is kept in --data for later runs.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/scale-100k.sh [options]

  --count N               domains and certificates (default: 100000)
  --data DIR              where the data set is generated, or reused when complete (default: /tmp/clicktls-scale-N)
  --probe N               names for the not-in-memory handshake measurement (default: 2000)
  --fill N                names handshaken under load for the RSS figure (default: 5000)
  --warm N                names that warm the probe and the proxy up before the not-in-memory handshakes
                          (default: 3000; with 500 the JIT compilers took half the proxy's CPU while the
                          not-in-memory names were measured, bench/README.md)
  --reloads N             reloads to time, each a name appended to the domains_file (default: 3)
  --skip PARTS            leave out parts of the run, comma-separated: handshakes, rss, reloads
                          (start to serving is always measured)
  --no-build              do not run `mvn -B -q package -DskipTests` first
  --repo DIR              clicktls source tree to build and run (default: this script's repository)
  --jar FILE              clicktls jar (default: DIR/proxy/target/clicktls.jar)
  --jvm-flags "FLAGS"     JVM flags for clicktls (default: README's, readme_jvm_flags in lib.sh)
  --port-base N           first port to try (default: 18100)
  --results DIR           where raw output goes (default: bench/results/scale-<timestamp>)
  --keep                  keep the temporary directory (config, logs)
  --cold-cache            evict the probed names' files from the page cache (posix_fadvise DONTNEED: contents
                          untouched) before the not-in-memory handshakes, as on their first read after a reboot
EOF
}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
COUNT=100000
DATA=""
PROBE=2000
FILL=5000
RELOADS=3
BUILD=1
JAR=""
JVM_FLAGS=""
JVM_FLAGS_GIVEN=0 # else README's (lib.sh's readme_jvm_flags)
PORT_BASE=18100
RESULTS=""
KEEP=0
COLD_CACHE=0
SKIP=","
# 3,000: with 500 the compiler threads were ~50% of the proxy's CPU during the not-in-memory handshakes (27-35% with
# 3,000): the figure measured C2 compiling Netty's per-connection code more than loading from storage
WARM_NAMES=3000

# shellcheck source=bench/options.sh
. "$BENCH_DIR/options.sh"
while [ $# -gt 0 ]; do
    case "$1" in
        --count) COUNT=$2; shift ;;
        --data) DATA=$2; shift ;;
        --probe) PROBE=$2; shift ;;
        --fill) FILL=$2; shift ;;
        --warm) WARM_NAMES=$2; shift ;;
        --reloads) RELOADS=$2; shift ;;
        --skip) SKIP=",$2,"; shift ;;
        --cold-cache) COLD_CACHE=1 ;;
        -h|--help) usage; exit 0 ;;
        *)
            common_option "$@" || { echo "scale-100k.sh: unknown option $1" >&2; usage >&2; exit 64; }
            shift $((COMMON_WORDS - 1))
            ;;
    esac
    shift
done
check_skip scale-100k.sh handshakes rss reloads
whole_numbers scale-100k.sh "$COUNT" "$PROBE" "$FILL" "$RELOADS" "$PORT_BASE" "$WARM_NAMES"
[ $((WARM_NAMES + PROBE + FILL + 1)) -le "$COUNT" ] \
    || { echo "scale-100k.sh: --count must exceed $WARM_NAMES + --probe + --fill" >&2; exit 64; }
JAR=${JAR:-$REPO/proxy/target/clicktls.jar}
DATA=${DATA:-/tmp/clicktls-scale-$COUNT}
RESULTS=${RESULTS:-$BENCH_DIR/results/scale-$(date +%Y%m%d-%H%M%S)}

# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
[ "$JVM_FLAGS_GIVEN" -eq 1 ] || JVM_FLAGS=$(readme_jvm_flags "$JAR")

for tool in java nginx wrk curl ss; do command -v "$tool" >/dev/null || die "$tool is needed"; done
[ "$BUILD" -eq 0 ] || command -v mvn >/dev/null || die "mvn is needed to build clicktls (or --no-build)"
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
WORK=$(mktemp -d /tmp/clicktls-scale-run.XXXXXX)
build_clicktls
[ -f "$JAR" ] || die "no clicktls jar at $JAR"

bouncy_castle_classpath() {
    local jars=() artifact jar
    for artifact in bcprov bcpkix bcutil; do
        jar=$(ls -1 "$HOME"/.m2/repository/org/bouncycastle/$artifact-jdk18on/*/$artifact-jdk18on-*.jar 2>/dev/null \
            | grep -v -e sources -e javadoc | sort -V | tail -n 1)
        [ -n "$jar" ] || die "no $artifact-jdk18on jar under ~/.m2 (build clicktls once to fetch it)"
        jars+=("$jar")
    done
    (IFS=:; echo "${jars[*]}")
}

# --- data set ---------------------------------------------------------------------------------------------
make_data() {
    if [ -f "$DATA/complete" ]; then
        log "reusing the data set in $DATA ($(cat "$DATA/complete"))"
        return 0
    fi
    log "generating $COUNT certificates in $DATA (a few minutes; kept for later runs)"
    rm -rf "$DATA"
    mkdir -p "$DATA"
    seq 0 $((COUNT - 1)) | awk '{printf "links.shop%d.test\n", $1}' > "$DATA/names.txt"
    local started=$SECONDS
    java -cp "$(bouncy_castle_classpath)" "$BENCH_DIR/scale/GenerateCertificates.java" "$DATA/storage" \
        "$DATA/names.txt" | tee "$RESULTS/generate.txt" >&2
    echo "$COUNT certificates, generated in $((SECONDS - started)) s on $(date -u +%Y-%m-%d)" > "$DATA/complete"
}

# The config names its domains in a domains_file next to it: one name a line (one platform, so no platform column).
write_config() {
    free_port HTTPS_PORT; free_port HTTP_PORT; free_port ADMIN_PORT
    CONFIG=$WORK/clicktls.yml
    DOMAINS_FILE=$WORK/domains.txt
    {
        echo "# $COUNT names, one a line: NAME [PLATFORM]"
        cat "$DATA/names.txt"
    } > "$DOMAINS_FILE"
    cat > "$CONFIG" <<EOF
listen:
  https: 127.0.0.1:$HTTPS_PORT
  http: 127.0.0.1:$HTTP_PORT
  admin: 127.0.0.1:$ADMIN_PORT
storage:
  directory: $DATA/storage
certificates:
  issuer: internal
  key_type: ec256
platforms:
  bench:
    upstream: http://127.0.0.1:$NGINX_PORT
domains_file: domains.txt
EOF
    log "config: $(wc -l < "$CONFIG") lines; domains file: $(wc -l < "$DOMAINS_FILE") lines, $(du -k "$DOMAINS_FILE" | cut -f1) KiB"
}

# --- measurements -----------------------------------------------------------------------------------------
# report, now_ms, start_and_time, probe, wait_for_index_scan, not_in_memory_handshakes and rss_under_load: lib.sh

cold_handshakes() {
    log "warming the probe and the proxy on $WARM_NAMES names"
    probe "$RESULTS/probe-warmup.txt" 0 "$WARM_NAMES" 2 warm-up
    wait_for_index_scan "$PROXY_START_MS"
    if [ "$COLD_CACHE" -eq 1 ]; then
        sed -n "$((WARM_NAMES + 1)),$((WARM_NAMES + PROBE))p" "$ORDER" | python3 -c '
import os, sys
root = sys.argv[1]
for name in sys.stdin.read().split():
    for file in ("meta.json", "chain.pem", "key.pem"):
        fd = os.open(os.path.join(root, "certificates", name, file), os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
' "$DATA/storage"
        report "page cache: the $PROBE probed names' files evicted before the not-in-memory handshakes"
    fi
    not_in_memory_handshakes
}

# The time of the n-th "reloaded" line in the proxy's log, in ms since the epoch (empty if there is none yet).
reload_line_ms() {
    local line
    line=$(grep -a ' reloaded: ' "$RESULTS/clicktls.log" | sed -n "${1}p")
    [ -n "$line" ] || return 0
    date -u -d "$(awk '{print $1}' <<< "$line")" +%s%3N
}

reloads() {
    local wrk_pid i before t0 t1 times=()
    log "config reloads: $RELOADS edits of the $COUNT-line domains file while wrk keeps 50 connections busy"
    start_load "$RESULTS/reload-wrk.txt" timeout 600 wrk -t1 -c50 -d$((RELOADS * 5 + 6))s --latency -s "$WORK/sni.lua" \
        -H "Host: links.shop0.test" "https://links.shop0.test:$HTTPS_PORT/"
    wrk_pid=$STARTED_PID
    sleep 3
    before=$(grep -ac ' reloaded: ' "$RESULTS/clicktls.log" || true)
    for i in $(seq 1 "$RELOADS"); do
        t0=$(now_ms)
        printf 'reload%d.shop.test bench\n' "$i" >> "$DOMAINS_FILE"
        t1=""
        while [ -z "$t1" ] && [ $(( $(now_ms) - t0 )) -lt 30000 ]; do
            sleep 0.02
            t1=$(reload_line_ms $((before + i)))
        done
        [ -n "$t1" ] || die "no reload logged within 30 s of edit $i (see $RESULTS/clicktls.log)"
        times+=("$((t1 - t0))")
        log "reload $i: $((t1 - t0)) ms"
        sleep 2
    done
    wait_load "$wrk_pid" || true
    report "config reload of $COUNT domains_file entries, write → 'reloaded' log line (incl. 200 ms debounce): ${times[*]} ms"
    report "  keep-alive during the reloads: $(parse_wrk "$RESULTS/reload-wrk.txt" | awk '{printf "%d requests, %d req/s, p99 %s ms, %d errors (dropped connections show as errors)", $1, $2, $3, $4}')"
}

# --- main -------------------------------------------------------------------------------------------------
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(uname -r)"
    echo "clicktls: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'), java ${JVM_FLAGS:-(no JVM flags)}"
    echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$RESULTS/environment.txt" >&2

make_data
ORDER=$WORK/order.txt
shuf --random-source=<(yes) "$DATA/names.txt" > "$ORDER"
write_wrk_script
start_nginx
write_config
start_and_time "$(sed -n "${COUNT}p" "$ORDER")" "$RESULTS/clicktls.log" "$CONFIG"
skipped handshakes || cold_handshakes
skipped rss || rss_under_load
skipped reloads || reloads
stop_server "$PROXY_PID"
grep -a -c -E ' (WARN|ERROR) ' "$RESULTS/clicktls.log" | xargs -I{} echo "{} WARN/ERROR lines in the proxy log" >&2 || true
{
    echo
    cat "$RESULTS/environment.txt"
    echo "data: $(cat "$DATA/complete")"
    echo
    printf '%s' "$REPORT"
} | tee "$RESULTS/report.txt"
