#!/usr/bin/env bash
# Side by side: HAProxy, Caddy and clicktls terminate TLS for links.shop.test with the same ECDSA P-256
# certificate, in front of the same local nginx answering 302. Each proxy runs alone while it is measured.
# Loads: wrk keep-alive, wrk with "Connection: close" (wrk resumes TLS 1.3 sessions), and h2load at a fixed
# rate of new connections with one request each: over HTTP/1.1 (full handshakes) and over ALPN h2 (the click as a
# browser makes it). Server CPU per request comes from /proc/PID/stat (utime + stime) read before and after each
# load. See bench/README.md.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/compare.sh [options]

  --no-build              do not run `mvn -B -q package -DskipTests` first
  --only LIST             servers to measure, comma separated (default: haproxy,caddy,clicktls,floor); floor is
                          both floor servers of the stack, floor-h1 (tls/FloorServer.java: resumed and full
                          handshake loads) and floor-h2 (tls/H2FloorServer.java: the h2 click load)
  --duration SECONDS      length of each measured load (default: 15)
  --warmup SECONDS        a fixed warm-up per load type instead of warming until the cost settles
  --settle-round SECONDS  warm-up: each load runs in rounds of this length right before it is measured, until
                          --settle-rounds consecutive rounds' server CPU per request differ pairwise by less than
                          --settle-within percent (default: 8)
  --settle-rounds N       (default: 3; 2 let clicktls's h2 click "settle" at 745 and 812 µs while the JIT was
                          still at work: warm-up.sh saw its cost fall to ~600 µs after ~50 s)
  --settle-within PERCENT (default: 10)
  --settle-max SECONDS    warm-up: at most this long per load type, settled or not (default: 90)
  --connections N         wrk connections (default: 50)
  --handshake-rate N      new connections per second for the full-handshake load (default: 300)
  --repo DIR              clicktls source tree to build and run (default: this script's repository)
  --jar FILE              clicktls jar to run (default: DIR/proxy/target/clicktls.jar)
  --jvm-flags "FLAGS"     JVM flags for clicktls (default: README's, readme_jvm_flags in lib.sh)
  --port-base N           first port to try; free ports are picked from there (default: 18000)
  --results DIR           where raw output goes (default: bench/results/<timestamp>)
  --keep                  keep the temporary directory (certificates, configs, storage)
  --wait-idle SECONDS     before each proxy (and retry), wait up to this long for >= 90% idle CPU (default: 0)
  --retries N             run a load again when other processes took > 10% of the CPU during it (default: 2)
EOF
}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
BUILD=1
ONLY="haproxy,caddy,clicktls,floor"
DURATION=15
# Warm-up until the cost settles: a fixed 15 s was not enough for the h2 path (issue 17: the JIT needed ~40 s of h2
# clicks; with 5 s the C2 compiler took 14-43% of clicktls's CPU in the handshake windows, bench/tls/README.md).
# WARMUP set by --warmup replaces it with a fixed time.
WARMUP=""
SETTLE_ROUND=8
SETTLE_ROUNDS=3
SETTLE_WITHIN=10
SETTLE_MAX=90
CONNECTIONS=50
HANDSHAKE_RATE=300
JAR=""
JVM_FLAGS=""
JVM_FLAGS_GIVEN=0 # else README's (lib.sh's readme_jvm_flags)
PORT_BASE=18000
RESULTS=""
KEEP=0
WAIT_IDLE=0
RETRIES=2
NAME=links.shop.test

# shellcheck source=bench/options.sh
. "$BENCH_DIR/options.sh"
while [ $# -gt 0 ]; do
    case "$1" in
        --only) ONLY=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        --settle-round) SETTLE_ROUND=$2; shift ;;
        --settle-rounds) SETTLE_ROUNDS=$2; shift ;;
        --settle-within) SETTLE_WITHIN=$2; shift ;;
        --settle-max) SETTLE_MAX=$2; shift ;;
        --connections) CONNECTIONS=$2; shift ;;
        --handshake-rate) HANDSHAKE_RATE=$2; shift ;;
        --wait-idle) WAIT_IDLE=$2; shift ;;
        --retries) RETRIES=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *)
            common_option "$@" || { echo "compare.sh: unknown option $1" >&2; usage >&2; exit 64; }
            shift $((COMMON_WORDS - 1))
            ;;
    esac
    shift
done
JAR=${JAR:-$REPO/proxy/target/clicktls.jar}
RESULTS=${RESULTS:-$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)}
whole_numbers compare.sh "$DURATION" "${WARMUP:-0}" "$SETTLE_ROUND" "$SETTLE_ROUNDS" "$SETTLE_WITHIN" "$SETTLE_MAX" "$CONNECTIONS" "$HANDSHAKE_RATE" "$PORT_BASE" "$WAIT_IDLE" "$RETRIES"
[ "$DURATION" -ge 1 ] && [ "$HANDSHAKE_RATE" -ge 50 ] && [ "$SETTLE_ROUND" -ge 1 ] && [ "$SETTLE_ROUNDS" -ge 2 ] \
    || { echo "compare.sh: duration >= 1, handshake rate >= 50, settle round >= 1, settle rounds >= 2" >&2; exit 64; }
ONLY=${ONLY//floor,/floor-h1,floor-h2,}
ONLY=$(sed 's/\(^\|,\)floor$/\1floor-h1,floor-h2/' <<< "$ONLY")
IFS=, read -r -a PROXIES <<< "$ONLY"
for p in "${PROXIES[@]}"; do
    case "$p" in haproxy|caddy|clicktls|floor-h1|floor-h2) ;; *) echo "compare.sh: unknown proxy $p" >&2; exit 64 ;; esac
done
wants() { [[ ,$ONLY, == *,$1,* ]]; }

# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
[ "$JVM_FLAGS_GIVEN" -eq 1 ] || JVM_FLAGS=$(readme_jvm_flags "$JAR")

# --- tools ------------------------------------------------------------------------------------------------
ensure_tools() {
    local -A package=([haproxy]=haproxy [caddy]=caddy [nginx]=nginx [wrk]=wrk [h2load]=nghttp2-client
                      [openssl]=openssl [curl]=curl [ss]=iproute2)
    local missing=() tool
    for tool in nginx wrk h2load openssl curl ss; do
        command -v "$tool" >/dev/null || missing+=("${package[$tool]}")
    done
    for tool in haproxy caddy; do
        if wants "$tool" && ! command -v "$tool" >/dev/null; then missing+=("${package[$tool]}"); fi
    done
    if [ ${#missing[@]} -gt 0 ]; then
        [ "$(id -u)" -eq 0 ] || die "missing packages: ${missing[*]} (run as root to install them, or install them)"
        log "installing ${missing[*]}"
        apt-get install -y "${missing[@]}" >&2 || { apt-get update >&2 && apt-get install -y "${missing[@]}" >&2; }
    fi
    if wants clicktls || wants floor-h1 || wants floor-h2; then
        command -v java >/dev/null || die "java is needed for clicktls"
        [ "$BUILD" -eq 0 ] || command -v mvn >/dev/null || die "mvn is needed to build clicktls (or --no-build)"
    fi
}

# shellcheck source=bench/servers.sh
. "$BENCH_DIR/servers.sh"

# The loads each server is measured with: the floors only with the handshake loads they are the floor of.
loads_of() {
    case "$1" in
        floor-h1) echo resumed full ;;
        floor-h2) echo click ;;
        *) echo keepalive resumed full click ;;
    esac
}

# --- checks ---------------------------------------------------------------------------------------------
# The same certificate, the redirect passed through, and whether a TLS 1.3 session resumes.
check_proxy() {
    local name=$1 out location fingerprint session
    out=$RESULTS/$name-check.txt
    location=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' --resolve "$NAME:$PROXY_PORT:127.0.0.1" \
        --cacert "$WORK/pki/ca.pem" "$(url)click/abc?id=1")
    [ "$location" = "302 https://destination.example/landing" ] || die "$name answered '$location'"
    fingerprint=$(openssl s_client -connect "127.0.0.1:$PROXY_PORT" -servername "$NAME" </dev/null 2>/dev/null \
        | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2)
    [ "$fingerprint" = "$LEAF_FINGERPRINT" ] || die "$name serves another certificate ($fingerprint)"
    if [ "$name" = floor-h2 ]; then
        # it speaks only h2 and is only measured with new connections: no HTTP/1.1 request to get a ticket with
        RESUMES=n/a
        TLS_SUMMARY=$(echo | timeout 5 openssl s_client -connect "127.0.0.1:$PROXY_PORT" -servername "$NAME" -alpn h2 \
            2>/dev/null | awk '/^New, /{sub(/, Cipher is /, " "); print $2, $3; exit}')
        TLS_GROUP=""
        log "$name: same certificate, 302, $TLS_SUMMARY"
        return 0
    fi
    session=$WORK/$name-session.pem
    # A request is sent and stdin stays open a moment: TLS 1.3 tickets arrive after the handshake (BoringSSL behind
    # Netty sends them with the first application data), and s_client saves what it has at EOF.
    { printf 'GET /click/abc HTTP/1.1\r\nHost: %s\r\n\r\n' "$NAME"; sleep 0.5; } \
        | timeout 5 openssl s_client -connect "127.0.0.1:$PROXY_PORT" -servername "$NAME" -sess_out "$session" \
        >"$out" 2>&1 || true
    RESUMES=no
    if [ -s "$session" ]; then
        echo | timeout 5 openssl s_client -connect "127.0.0.1:$PROXY_PORT" -servername "$NAME" -sess_in "$session" \
            >>"$out" 2>&1 || true
        if grep -q '^Reused' "$out"; then RESUMES=yes; fi
    fi
    TLS_SUMMARY=$(awk '/^New, /{sub(/, Cipher is /, " "); print $2, $3; exit}' "$out")
    TLS_GROUP=$(awk -F': ' '/Server Temp Key/{print $2; exit}' "$out")
    log "$name: same certificate, 302 passed through, $TLS_SUMMARY, $TLS_GROUP, resumption: $RESUMES"
}

# --- loads ------------------------------------------------------------------------------------------------
wrk_load() {
    local out=$1 seconds=$2; shift 2
    run_load "$out" timeout $((seconds + 30)) wrk -t1 -c"$CONNECTIONS" -d"${seconds}s" --latency -s "$WORK/shape.lua" \
        -H "Host: $NAME" "$@" "$(url)"
}

# sni.lua plus a last line with the shape of the latency distribution: a tail made of separate modes (stalls of a
# fixed length, e.g. a scheduler tick) shows as a bump in the 0.5 ms histogram, a wider body does not.
write_shape_script() {
    cat "$WORK/sni.lua" > "$WORK/shape.lua"
    cat >> "$WORK/shape.lua" <<'EOF'
done = function(summary, latency, requests)
    local total, over, bins = 0, {0, 0, 0, 0}, {}
    local limits = {2000, 3000, 5000, 10000}
    for i = 1, #latency do
        local v, c = latency(i)
        total = total + c
        for j, limit in ipairs(limits) do if v >= limit then over[j] = over[j] + c end end
        local b = math.min(math.floor(v / 500), 19)
        bins[b] = (bins[b] or 0) + c
    end
    if total == 0 then return end
    local h = {}
    for b = 0, 19 do h[#h + 1] = string.format("%.2f", 100 * (bins[b] or 0) / total) end
    io.write(string.format("latency shape: p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f max %.1f ms;"
        .. " >=2ms %.2f%% >=3ms %.2f%% >=5ms %.3f%% >=10ms %.3f%%; per 0.5 ms (last: >=9.5 ms) %s\n",
        latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
        latency:percentile(99.9) / 1000, latency.max / 1000, 100 * over[1] / total, 100 * over[2] / total,
        100 * over[3] / total, 100 * over[4] / total, table.concat(h, " ")))
end
EOF
}

# One new connection per request, no resumption: h2load at a fixed connection rate with as many clients as
# requests, so each client makes one connection and one request. (h2load reconnecting after
# "Connection: close" would resume its session; a closed loop of one-request batches measures h2load's start.)
# PROTOCOL h1: `--h1`, ALPN http/1.1 (the full-handshake load); h2: ALPN h2 (the click as a browser makes it: new
# connection, full TLS 1.3 handshake, HTTP/2, one GET).
h2load_load() {
    local out=$1 seconds=$2 protocol=$3 per_tick total h1=()
    per_tick=$(( (HANDSHAKE_RATE + 25) / 50 ))
    total=$((per_tick * 50 * seconds))
    [ "$protocol" = h1 ] && h1=(--h1)
    run_load "$out" timeout $((seconds * 4 + 30)) h2load "${h1[@]}" -m 1 -c "$total" -n "$total" -r "$per_tick" \
        --rate-period 20ms -N 10s --log-file="$out.requests" --connect-to "127.0.0.1:$PROXY_PORT" "$(url)"
}

# h2load output -> "requests rps p99_ms errors seconds"; p99 of the request time from its per-request log
parse_h2load() {
    local p99
    p99=$(awk '{print $3}' "$1.requests" 2>/dev/null | sort -n \
        | awk '{v[NR] = $1} END {if (NR == 0) {print 0} else {i = int(NR * 0.99); if (i < NR * 0.99) i++; print v[i] / 1000}}')
    awk -v p99="$p99" '
        /^finished in/ { seconds = $3 + 0; if ($3 ~ /ms,$/) seconds /= 1000; rps = $4 }
        /^requests:/ { requests = $8; errors = $2 - $8 }
        /^status codes:/ { errors += $3 + $7 + $9 }
        END { printf "%d %.0f %.2f %d %.1f\n", requests, rps, p99, errors, seconds }' "$1"
}

SUMMARY=""
# Runs one load; when other processes took more than 10% of the CPU meanwhile, waits for the machine to be idle
# (if --wait-idle) and runs it again, up to --retries times, keeping the last attempt.
measure() {
    local attempt
    for attempt in $(seq 0 "$RETRIES"); do
        measure_once "$@"
        [ "$OTHERS" -gt 10 ] && [ "$attempt" -lt "$RETRIES" ] || break
        log "$1 $2: other processes used ${OTHERS}% of the CPU; again"
        wait_idle "$WAIT_IDLE"
    done
    printf '%s\n' "$MEASURED" >> "$SUMMARY"
}

measure_once() {
    local name=$1 load=$2 out before after requests rps p99 errors extra="" ticks
    local machine0 machine1 nginx0 nginx1 clients0 clients1 others
    out=$RESULTS/$name-$load.txt
    machine0=$(machine_ticks); nginx0=$(cpu_ticks "$NGINX_PID"); clients0=$(children_ticks)
    before=$(cpu_ticks "$PROXY_PID")
    run_named_load "$load" "$out" "$DURATION"
    after=$(cpu_ticks "$PROXY_PID")
    machine1=$(machine_ticks); nginx1=$(cpu_ticks "$NGINX_PID"); clients1=$(children_ticks)
    # CPU the machine spent on anything but this proxy, nginx and the load generator: other people's work, which
    # takes cores from the run and makes its throughput and latency figures unreliable
    others=$(awk -v m0="$machine0" -v m1="$machine1" -v own=$(( (after - before) + (nginx1 - nginx0) + (clients1 - clients0) )) \
        'BEGIN {split(m0, a, " "); split(m1, b, " "); t = b[2] - a[2]; o = (b[1] - a[1]) - own; if (o < 0) o = 0; print (t > 0) ? int(100 * o / t) : 0}')
    kill -0 "$PROXY_PID" 2>/dev/null || die "$name died during the $load load (see $RESULTS/$name.log)"
    if [ "$load" = full ] || [ "$load" = click ]; then
        read -r requests rps p99 errors extra <<< "$(parse_h2load "$out")"
        # h2load falls back to HTTP/1.1 when the server picks no protocol: the click load must really be h2
        if [ "$load" = click ] && ! grep -q '^Application protocol: h2$' "$out"; then
            die "$name did not negotiate h2 for the click load (see $out)"
        fi
    else
        read -r requests rps p99 errors <<< "$(parse_wrk "$out")"
    fi
    ticks=$((after - before))
    local cpu_us=0
    [ "$requests" -gt 0 ] && cpu_us=$((ticks * TICK_US / requests))
    printf -v MEASURED '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$name" "$load" "$requests" "$rps" "$p99" "$cpu_us" \
        "$errors" "$extra" "$others"
    OTHERS=$others
    printf '%s %s: CPU ticks: proxy %d, nginx %d, load generator %d, machine %s -> %s (busy total)\n' "$name" "$load" \
        "$ticks" $((nginx1 - nginx0)) $((clients1 - clients0)) "$machine0" "$machine1" >> "$RESULTS/cpu-accounting.txt"
    log "$name $load: $requests requests, $rps req/s, p99 ${p99} ms, $cpu_us µs CPU/request, $errors errors${extra:+, took ${extra}s}, other processes used ${others}% of the CPU"
    sleep 2
}

# run_named_load LOAD OUT SECONDS: one of the four loads against the proxy under test, output in OUT.
run_named_load() {
    case "$1" in
        keepalive) wrk_load "$2" "$3" || true ;;
        resumed) wrk_load "$2" "$3" -H "Connection: close" || true ;;
        full) h2load_load "$2" "$3" h1 || true ;;
        click) h2load_load "$2" "$3" h2 || true ;;
    esac
}

# Requests completed in a load's output.
completed_requests() {
    case "$1" in
        full|click) parse_h2load "$2" | awk '{print $1}' ;;
        *) parse_wrk "$2" | awk '{print $1}' ;;
    esac
}

# Warms one load type right before it is measured (so no other load deoptimises its paths in between): rounds of
# --settle-round seconds until the last --settle-rounds rounds' server CPU per request differ pairwise (each from the
# next) by less than --settle-within percent, at most --settle-max seconds; or --warmup seconds if given. Appends "name load seconds settled costs" to
# $WARMUPS.
warm_up() {
    local name=$1 load=$2 round=0 spent=0 before after requests cost previous="" costs="" settled=no out agreeing=1
    if [ -n "$WARMUP" ]; then
        [ "$WARMUP" -gt 0 ] || return 0
        run_named_load "$load" "$RESULTS/$name-warmup-$load.txt" "$WARMUP"
        printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$load" "$WARMUP" fixed "-" >> "$WARMUPS"
        sleep 2
        return 0
    fi
    while [ "$spent" -lt "$SETTLE_MAX" ]; do
        round=$((round + 1))
        out=$RESULTS/$name-warmup-$load-$round.txt
        before=$(cpu_ticks "$PROXY_PID")
        run_named_load "$load" "$out" "$SETTLE_ROUND"
        after=$(cpu_ticks "$PROXY_PID")
        spent=$((spent + SETTLE_ROUND))
        requests=$(completed_requests "$load" "$out")
        cost=$(( requests > 0 ? (after - before) * TICK_US / requests : 0 ))
        costs+="${costs:+ }$cost"
        if [ -n "$previous" ] && [ "$cost" -gt 0 ] && awk -v a="$previous" -v b="$cost" -v w="$SETTLE_WITHIN" \
            'BEGIN { d = a - b; if (d < 0) d = -d; m = a < b ? a : b; exit !(m > 0 && 100 * d / m < w) }'; then
            agreeing=$((agreeing + 1))
        else
            agreeing=1
        fi
        if [ "$agreeing" -ge "$SETTLE_ROUNDS" ]; then
            settled=yes
            break
        fi
        previous=$cost
    done
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$load" "$spent" "$settled" "$costs" >> "$WARMUPS"
    if [ "$settled" = yes ]; then
        log "$name $load: settled after ${spent}s of warm-up (µs CPU/request per ${SETTLE_ROUND}s round: $costs)"
    else
        log "$name $load: not settled within ${SETTLE_MAX}s of warm-up (µs CPU/request per ${SETTLE_ROUND}s round: $costs); measuring anyway"
    fi
    sleep 2
}

bench_proxy() {
    local name=$1
    wait_idle "$WAIT_IDLE"
    log "$name: starting"
    "start_$name"
    wait_ready "$name"
    check_proxy "$name"
    local load
    for load in $(loads_of "$name"); do
        warm_up "$name" "$load"
        measure "$name" "$load"
    done
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$(memory_kb "$PROXY_PID" VmHWM)" "$(memory_kb "$PROXY_PID" VmRSS)" \
        "$RESUMES" "$TLS_SUMMARY${TLS_GROUP:+, $TLS_GROUP}" "$PROXY_VERSION" >> "$PROXY_INFO"
    stop_server "$PROXY_PID"
    log "$name: stopped"
}

# --- report -----------------------------------------------------------------------------------------------
print_table() {
    awk -F'\t' '
        function group(n,   s) { if (n == "") return "–"; n = sprintf("%.0f", n); s = ""; while (length(n) > 3) { s = "," substr(n, length(n) - 2) s; n = substr(n, 1, length(n) - 3) } return n s }
        function cell(x) { return x == "" ? "–" : x }
        function ratio(a, b) { return (b > 0 && a != "") ? sprintf("%.2f×", a / b) : "–" }
        function mark(r, goal, higher) { if (r == "–") return ""; r += 0; return (higher ? r >= goal : r <= goal) ? " ✓" : " ✗" }
        FNR == NR { v[$1, $2, "rps"] = $4; v[$1, $2, "p99"] = $5; v[$1, $2, "cpu"] = $6; v[$1, $2, "err"] = $7; v[$1, $2, "req"] = $3; v[$1, $2, "s"] = $8; v[$1, $2, "others"] = $9; next }
        { info[$1] = $0; hwm[$1] = $2; resumes[$1] = $4; label[$1] = $6; order[++n] = $1 }
        END {
            print "| server | keep-alive req/s | keep-alive CPU µs/req | p99 | resumed CPU µs/req | full handshake CPU µs/req | h2 click CPU µs/req | resumed req/s | peak RSS |"
            print "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
            for (i = 1; i <= n; i++) {
                p = order[i]
                if (resumes[p] == "no") unresumed = unresumed " " p
                printf "| %s | %s | %s | %s | %s%s | %s | %s | %s | %d MiB |\n", label[p], group(v[p, "keepalive", "rps"]),
                    cell(v[p, "keepalive", "cpu"]), v[p, "keepalive", "p99"] == "" ? "–" : v[p, "keepalive", "p99"] " ms",
                    cell(v[p, "resumed", "cpu"]), resumes[p] == "no" ? " †" : "", cell(v[p, "full", "cpu"]),
                    cell(v[p, "click", "cpu"]), group(v[p, "resumed", "rps"]), hwm[p] / 1024
            }
            c = "clicktls"; h = "haproxy"; f1 = "floor-h1"; f2 = "floor-h2"
            if ((c in hwm) && (h in hwm)) {
                r1 = ratio(v[c, "keepalive", "rps"], v[h, "keepalive", "rps"]); r2 = ratio(v[c, "keepalive", "cpu"], v[h, "keepalive", "cpu"])
                r3 = ratio(v[c, "keepalive", "p99"], v[h, "keepalive", "p99"]); r4 = ratio(v[c, "resumed", "cpu"], v[h, "resumed", "cpu"])
                r5 = ratio(v[c, "full", "cpu"], v[h, "full", "cpu"]); r6 = ratio(v[c, "resumed", "rps"], v[h, "resumed", "rps"])
                r7 = ratio(hwm[c], hwm[h]); r8 = ratio(v[c, "click", "cpu"], v[h, "click", "cpu"])
                # throughput and latency compare only when neither run shared the machine with other work
                k = (v[c, "keepalive", "others"] > 10 || v[h, "keepalive", "others"] > 10) ? " (disturbed)" : ""
                # issue 17: keep-alive against HAProxy; the handshake loads against the floors (next rows)
                printf "| clicktls ÷ HAProxy (goal) | %s (≥ 1)%s | %s (≤ 1)%s | %s (≤ 1)%s | %s | %s | %s | %s | %s |\n",
                    r1, k != "" ? k : mark(r1, 1, 1), r2, mark(r2, 1, 0), r3, k != "" ? k : mark(r3, 1, 0),
                    r4, r5, r8, r6, r7
            }
            if ((c in hwm) && ((f1 in hwm) || (f2 in hwm))) {
                r4 = ratio(v[c, "resumed", "cpu"], v[f1, "resumed", "cpu"]); r5 = ratio(v[c, "full", "cpu"], v[f1, "full", "cpu"])
                r8 = ratio(v[c, "click", "cpu"], v[f2, "click", "cpu"])
                printf "| clicktls ÷ its floor (goal; h1 loads ÷ floor-h1, click ÷ floor-h2) | | | | %s (≤ 1.15)%s | %s (≤ 1.15)%s | %s (≤ 1.15)%s | | |\n",
                    r4, mark(r4, 1.15, 0), r5, mark(r5, 1.15, 0), r8, mark(r8, 1.15, 0)
            }
            if ((h in hwm) && ((f1 in hwm) || (f2 in hwm)))
                printf "| floor ÷ HAProxy (what the stack can reach) | | | | %s | %s | %s | | |\n",
                    ratio(v[f1, "resumed", "cpu"], v[h, "resumed", "cpu"]), ratio(v[f1, "full", "cpu"], v[h, "full", "cpu"]),
                    ratio(v[f2, "click", "cpu"], v[h, "click", "cpu"])
            if (unresumed != "")
                printf "\n† no TLS 1.3 resumption (openssl s_client -sess_out/-sess_in):%s; its \"resumed\" load made full handshakes\n", unresumed
            print ""
            for (i = 1; i <= n; i++) {
                p = order[i]
                split("keepalive resumed full click", loads, " ")
                for (j = 1; j <= 4; j++) {
                    l = loads[j]
                    if (v[p, l, "req"] == "") continue
                    if (v[p, l, "req"] > 0 && v[p, l, "err"] / v[p, l, "req"] > 0.001)
                        printf "warning: %s %s load: %d errors in %d requests\n", p, l, v[p, l, "err"], v[p, l, "req"]
                    if (v[p, l, "others"] > 10)
                        printf "warning: other processes used %d%% of the CPU during the %s %s load: its req/s and p99 are not comparable\n", v[p, l, "others"], p, l
                    if ((l == "full" || l == "click") && v[p, l, "s"] > 1.5 * duration)
                        printf "warning: %s could not keep up with the handshake rate (%ss for a %ss load)\n", p, v[p, l, "s"], duration
                }
            }
        }' duration="$DURATION" "$SUMMARY" "$PROXY_INFO"
}

# --- main -------------------------------------------------------------------------------------------------
ensure_tools
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
WORK=$(mktemp -d /tmp/clicktls-bench.XXXXXX)
SUMMARY=$RESULTS/summary.tsv
PROXY_INFO=$RESULTS/proxies.tsv
WARMUPS=$RESULTS/warmups.tsv
: > "$WARMUPS"
: > "$SUMMARY"
: > "$PROXY_INFO"

if wants clicktls || wants floor-h1 || wants floor-h2; then build_clicktls; fi

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(uname -r)"
    echo "load: wrk -t1 -c$CONNECTIONS, ${DURATION}s per load after $( [ -n "$WARMUP" ] && echo "${WARMUP}s of warm-up" || echo "warm-up in ${SETTLE_ROUND}s rounds until the CPU per request of ${SETTLE_ROUNDS} consecutive rounds is within ${SETTLE_WITHIN}% from one to the next (at most ${SETTLE_MAX}s)") right before it; full handshakes (h2load --h1) and h2 clicks (h2load, ALPN h2): $(( (HANDSHAKE_RATE + 25) / 50 * 50 )) new connections/s"
    echo "proxies: $ONLY"
    echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$RESULTS/environment.txt" >&2
if awk '{exit !($1 > 0.5)}' /proc/loadavg; then
    log "warning: the machine is busy (load average $(cut -d' ' -f1 /proc/loadavg)); numbers will be noisy"
fi

make_certificate
write_wrk_script
write_shape_script
start_nginx
log "nginx on 127.0.0.1:$NGINX_PORT, results in $RESULTS"
for proxy in "${PROXIES[@]}"; do bench_proxy "$proxy"; done
stop_server "$NGINX_PID"

{
    echo
    cat "$RESULTS/environment.txt"
    echo
    print_table
    echo
    echo "CPU: utime+stime of the proxy process (all threads) from /proc/PID/stat, per request; nginx not counted."
    echo "p99: keep-alive load, wrk --latency. Resumed: wrk with Connection: close (TLS 1.3 resumption)."
    for proxy in "${PROXIES[@]}"; do
        [ -f "$RESULTS/$proxy-keepalive.txt" ] || continue
        echo "$proxy keep-alive $(grep -h '^latency shape:' "$RESULTS/$proxy-keepalive.txt" | sed 's/; per 0.5 ms.*//')"
    done
    echo "Warm-up per load (seconds; µs CPU/request of each round):"
    awk -F'\t' '{ printf "  %s %s: %ss%s%s\n", $1, $2, $3, $4 == "no" ? " (not settled)" : ($4 == "fixed" ? " (fixed)" : ""), $5 == "-" ? "" : "; " $5 }' "$WARMUPS"
    echo "Full handshake: h2load --h1, one request per new connection, no resumption."
    echo "h2 click: h2load with ALPN h2, one GET per new connection (a full TLS 1.3 handshake each), no resumption."
    awk -F'\t' '{printf "%s: %s; resumption %s; peak RSS %d MiB\n", $1, $5, $4, $2 / 1024}' "$PROXY_INFO"
} | tee "$RESULTS/table.md"
