# Shared by compare.sh, scale-100k.sh and cluster-100k.sh: logging, processes started and stopped by pid, ports, /proc readings,
# the nginx stand-in for an email platform, and wrk's name resolution. Source it; it sets traps.

# JVM flags for clicktls in every script here: what a user gets from the run command in the root README.md, so that
# the benchmarks measure what users run. README runs `java -XX:SharedArchiveFile=proxy/target/clicktls.jsa -Xmx768m
# -jar …`: the class-data sharing archive that `mvn package` writes beside the jar, and the heap bound. Keep this in
# step with README's command (and the Docker image's) when they change; CLICKTLS_JVM_FLAGS in the environment (even
# empty) or a script's --jvm-flags overrides it for an experiment. readme_jvm_flags JAR prints them for that jar.
readme_jvm_flags() {
    local archive="${1%.jar}.jsa"
    if [ -z "${CLICKTLS_JVM_FLAGS+set}" ] && [ ! -f "$archive" ]; then
        # the JVM would start without it and say nothing: the figures would not be README's
        log "warning: no class-data archive at $archive (mvn package writes it); measuring without it"
    fi
    printf '%s' "${CLICKTLS_JVM_FLAGS--XX:SharedArchiveFile=$archive -Xmx768m}"
}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- processes --------------------------------------------------------------------------------------------
SERVER_PIDS=()
LOAD_PIDS=()
WORK=""
KEEP=${KEEP:-0}
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    local pid
    for pid in "${LOAD_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${SERVER_PIDS[@]}"; do stop_pid "$pid"; done
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ "$KEEP" -eq 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

stop_pid() {
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
}

# Starts a server in the background; its pid is in STARTED_PID.
start_server() {
    local logfile=$1; shift
    "$@" >"$logfile" 2>&1 &
    STARTED_PID=$!
    SERVER_PIDS+=("$STARTED_PID")
}

stop_server() {
    local pid=$1 kept=() p
    stop_pid "$pid"
    for p in "${SERVER_PIDS[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
    SERVER_PIDS=("${kept[@]}")
}

# Starts a load generator (or any bounded helper) in the background; its pid is in STARTED_PID. Stopped on exit.
start_load() {
    local out=$1; shift
    "$@" >"$out" 2>&1 &
    STARTED_PID=$!
    LOAD_PIDS+=("$STARTED_PID")
}

# Waits for a load started by start_load; returns its exit status.
wait_load() {
    local pid=$1 status=0 kept=() p
    wait "$pid" || status=$?
    for p in "${LOAD_PIDS[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
    LOAD_PIDS=("${kept[@]}")
    return "$status"
}

# Runs a load generator to its end, as a child the traps can stop (a foreground child would delay them).
run_load() {
    start_load "$@"
    wait_load "$STARTED_PID"
}

# Sets the variable named $1 to a port nobody listens on and this run has not handed out yet.
USED_PORTS=" "
free_port() {
    local p=$PORT_BASE
    while [[ $USED_PORTS == *" $p "* ]] || [ -n "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ]; do
        p=$((p + 1))
        [ "$p" -lt 65000 ] || die "no free port above $PORT_BASE"
    done
    USED_PORTS+="$p "
    printf -v "$1" '%s' "$p"
}

# The pid and its descendants.
process_tree() {
    local pid=$1 child
    echo "$pid"
    for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do process_tree "$child"; done
}

# utime + stime in clock ticks, summed over the process tree (threads are included in a process's line).
cpu_ticks() {
    local total=0 pid fields
    for pid in $(process_tree "$1"); do
        fields=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
        # after "pid (comm) " field 1 is the state: utime and stime are fields 12 and 13
        total=$((total + $(awk '{print $12 + $13}' <<< "$fields")))
    done
    echo "$total"
}

# Sum of a /proc/PID/status field (kB) over the process tree, e.g. VmRSS or VmHWM.
memory_kb() {
    local total=0 pid kb
    for pid in $(process_tree "$1"); do
        kb=$(awk -v f="$2:" '$1 == f {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}

TICK_US=$((1000000 / $(getconf CLK_TCK)))

# "busy total" clock ticks of the whole machine, from /proc/stat. Busy is user + nice + system + steal: interrupt
# time is left out because the kernel does not charge it to any process (loopback traffic is mostly softirq).
machine_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }

# CPU ticks of this script's reaped children (and theirs): the load generators once they have been waited for.
children_ticks() { sed 's/^.*) //' "/proc/$$/stat" | awk '{print $14 + $15}'; }

# Idle CPU, in percent of all cores, over the next $1 seconds (from /proc/stat).
idle_percent() {
    local a b
    a=$(awk '/^cpu /{print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat)
    sleep "$1"
    b=$(awk '/^cpu /{print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN {split(a, x, " "); split(b, y, " "); t = y[2] - x[2]; print (t > 0) ? int(100 * (y[1] - x[1]) / t) : 100}'
}

# Waits up to $1 seconds for a 3 s window with at least 90% idle CPU; says how it went.
wait_idle() {
    local limit=$1 start=$SECONDS idle
    [ "$limit" -gt 0 ] || return 0
    while :; do
        idle=$(idle_percent 3)
        if [ "$idle" -ge 90 ]; then log "machine idle ($idle%)"; return 0; fi
        if [ $((SECONDS - start)) -ge "$limit" ]; then
            log "warning: the machine is still busy ($idle% idle) after ${limit}s; measuring anyway"
            return 0
        fi
        log "waiting for the machine to be idle ($idle% idle now)"
        sleep 7
    done
}

sha256_hex() { sha256sum "$1" | awk '{print $1}'; }

# Builds the clicktls jar in $REPO unless BUILD=0; output in $RESULTS/build.log.
build_clicktls() {
    [ "$BUILD" -eq 1 ] || return 0
    log "building clicktls in $REPO"
    (cd "$REPO" && mvn -B -q package -DskipTests) >"$RESULTS/build.log" 2>&1 \
        || { tail -n 40 "$RESULTS/build.log" >&2; die "build failed (see $RESULTS/build.log)"; }
}

# nginx answering 302 for every path, standing in for the email platform; sets NGINX_PORT and NGINX_PID.
start_nginx() {
    local dir=$WORK/nginx
    mkdir -p "$dir"
    free_port NGINX_PORT
    cat > "$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    keepalive_requests 100000;
    keepalive_timeout 75s;
    server {
        listen 127.0.0.1:$NGINX_PORT backlog=4096;
        location / { return 302 https://destination.example/landing; }
    }
}
EOF
    cp "$dir/nginx.conf" "$RESULTS/nginx.conf"
    start_server "$RESULTS/nginx.log" nginx -c "$dir/nginx.conf" -p "$dir/"
    NGINX_PID=$STARTED_PID
    local i
    for i in $(seq 1 50); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NGINX_PORT/" || true)" = 302 ] && return 0
        kill -0 "$NGINX_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$RESULTS/nginx.log" >&2
    die "nginx did not start"
}

# wrk connects to 127.0.0.1 while the URL (and so SNI) names links.shop.test: no /etc/hosts entry needed.
write_wrk_script() {
    cat > "$WORK/sni.lua" <<'EOF'
-- connect to 127.0.0.1; the URL's host stays the SNI name
wrk.resolve = function(host, service)
    wrk.addrs = wrk.lookup("127.0.0.1", service)
end
EOF
}

# wrk output -> "requests rps p99_ms errors"
parse_wrk() {
    awk '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
            if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
            return v
        }
        / requests in / { requests = $1 }
        /^Requests\/sec:/ { rps = $2 }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { errors += $NF }
        /Socket errors:/ { gsub(/,/, ""); errors += $4 + $6 + $8 + $10 }
        END { printf "%d %.0f %.2f %d\n", requests, rps, p99, errors }' "$1"
}


# --- measurements shared by scale-100k.sh and cluster-100k.sh ---------------------------------------------
# They read: JAR, JVM_FLAGS, HTTPS_PORT, ORDER (a shuffled names file), WARM_NAMES, PROBE, FILL, RESULTS, BENCH_DIR.
REPORT=""
report() { REPORT+="$*"$'\n'; log "$*"; }

now_ms() { date +%s%3N; }

load_average() { cut -d' ' -f1-3 /proc/loadavg; }

# Waits until https://NAME/ on 127.0.0.1:$HTTPS_PORT answers 302 over TLS (curl polling every 50 ms) while the process
# $2 lives; dies after 120 s from $3 (ms since the epoch).
wait_for_302() {
    local name=$1 pid=$2 t0=$3 logfile=$4 address=${5:-127.0.0.1} code
    while :; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -k --resolve "$name:$HTTPS_PORT:$address" \
            "https://$name:$HTTPS_PORT/" 2>/dev/null || true)
        [ "$code" = 302 ] && return 0
        kill -0 "$pid" 2>/dev/null || { tail -n 30 "$logfile" >&2; die "clicktls exited (see $logfile)"; }
        [ $(( $(now_ms) - t0 )) -lt 120000 ] || die "clicktls did not serve $name within 120 s"
        sleep 0.05
    done
}

# Start to serving: starts clicktls with CONFIG (log in LOGFILE; pid in PROXY_PID) and times the process start → the
# first 302 over TLS for NAME, whose certificate is only in storage. Reports RSS after start.
start_and_time() {
    local name=$1 logfile=$2 config=$3 t0 t1 line logged
    t0=$(now_ms)
    PROXY_START_MS=$t0
    # shellcheck disable=SC2086
    start_server "$logfile" java $JVM_FLAGS -jar "$JAR" run --config "$config"
    PROXY_PID=$STARTED_PID
    wait_for_302 "$name" "$PROXY_PID" "$t0" "$logfile"
    t1=$(now_ms)
    report "start to serving (process start → first 302 over TLS for $name, loaded from storage): $((t1 - t0)) ms" \
        "(load average $(load_average))"
    line=$(grep -a -m1 ' serving https ' "$logfile" || true)
    if [ -n "$line" ]; then
        logged=$(date -u -d "$(awk '{print $1}' <<< "$line")" +%s%3N)
        report "  the proxy logged that it serves $((logged - t0)) ms after the process start"
    fi
    report "RSS after start: $(( $(memory_kb "$PROXY_PID" VmRSS) / 1024 )) MiB"
}

# Extra arguments (WARM_FIRST WARM_COUNT) make the probe warm its own TLS client up on those names first: a cold
# client JVM measures its own JIT more than the server. PROBE_HOST (default 127.0.0.1) is where it connects.
probe() {
    local out=$1 first=$2 count=$3 concurrency=$4 label=$5
    shift 5
    run_load "$out" timeout 1800 java -XX:+UseSerialGC "$BENCH_DIR/scale/HandshakeProbe.java" \
        "${PROBE_HOST:-127.0.0.1}" "$HTTPS_PORT" "$ORDER" "$first" "$count" "$concurrency" "$label" "$@" || true
    cat "$out" >&2
}

# The index scan of stored certificates runs after the start (seconds for 100,000 entries, a core's worth of work on
# this machine): handshakes measured while it runs measure the scan too. Waits for its log line, reports when it came.
wait_for_index_scan() {
    local line t0=$1 logfile=${2:-$RESULTS/clicktls.log}
    while :; do
        line=$(grep -a -m1 ' indexed .* stored certificates' "$logfile" || true)
        [ -n "$line" ] && break
        [ $(( $(now_ms) - t0 )) -lt 180000 ] || { report "index scan: not done within 180 s"; return 0; }
        sleep 0.2
    done
    report "index scan done $(( $(date -u -d "$(awk '{print $1}' <<< "$line")" +%s%3N) - t0 )) ms after the process start: ${line#* - }"
}

# HandshakeProbe's summary line matching $2 from file $1, without its label.
probe_line() { grep -h "$2" "$1" | sed 's/^[a-z-]*: //'; }

# Names WARM_NAMES.. of ORDER, not in memory yet, one at a time (the probe warmed up on the first names), then the
# same names again, in memory, as the baseline of what the handshake costs without storage.
not_in_memory_handshakes() {
    log "handshakes for $PROBE names not in memory, one at a time (load average $(load_average))"
    probe "$RESULTS/probe-cold.txt" "$WARM_NAMES" "$PROBE" 1 cold 0 "$WARM_NAMES"
    report "not in memory, one at a time: $(probe_line "$RESULTS/probe-cold.txt" 'server reply ms')" \
        "(load average $(load_average))"
    report "  $(probe_line "$RESULTS/probe-cold.txt" 'handshake ms') (adds the JDK client's crypto)"
    report "  $(probe_line "$RESULTS/probe-cold.txt" 'connections in')"
    if grep -q 'first error' "$RESULTS/probe-cold.txt"; then report "  $(grep -h 'first error' "$RESULTS/probe-cold.txt")"; fi
    probe "$RESULTS/probe-memory.txt" "$WARM_NAMES" "$PROBE" 1 memory 0 "$WARM_NAMES"
    report "same names in memory (baseline): $(probe_line "$RESULTS/probe-memory.txt" 'server reply ms')"
    report "  $(probe_line "$RESULTS/probe-memory.txt" 'handshake ms')"
}

# Samples VmRSS of PROXY_PID every half second until stopped.
sample_rss() {
    while kill -0 "$PROXY_PID" 2>/dev/null; do
        memory_kb "$PROXY_PID" VmRSS
        sleep 0.5
    done
}

# "Java heap: committed N MiB, used N MiB (max N MiB)" of the JVM $1, from jcmd (most of a node's RSS is the heap the
# collector committed, which follows its sizing policy more than what is live), or why it is not known.
java_heap() {
    local info
    info=$(jcmd "$1" GC.heap_info 2>/dev/null) || { echo "Java heap: unknown (jcmd failed)"; return 0; }
    awk -v max="$(jcmd "$1" VM.flags 2>/dev/null | tr ' ' '\n' | awk -F= '/^-XX:MaxHeapSize=/{print int($2 / 1048576)}')" '
        / total [0-9]+K, used [0-9]+K/ {
            for (i = 1; i <= NF; i++) { if ($i == "total") total = $(i + 1); if ($i == "used") used = $(i + 1) }
            gsub(/[K,]/, "", total); gsub(/[K,]/, "", used)
            printf "Java heap: committed %d MiB, used %d MiB (max %s MiB)\n", total / 1024, used / 1024, max; found = 1; exit
        }
        END { if (!found) print "Java heap: unknown (no heap line in GC.heap_info)" }' <<< "$info"
}

# RSS under load: FILL new names (after the warm-up and probed ones) at 8 connections at once while wrk keeps 50
# keep-alive connections busy on links.shop0.test; peak RSS sampled twice a second, and VmHWM.
rss_under_load() {
    local first=$((WARM_NAMES + PROBE)) sampler wrk_pid seconds peak
    log "RSS under load: $FILL new names at 8 connections at once, wrk keep-alive on one name alongside"
    start_load "$RESULTS/rss-samples.txt" sample_rss
    sampler=$STARTED_PID
    # long enough for the probe; stopped as soon as the probe is done
    start_load "$RESULTS/rss-wrk.txt" timeout 1800 wrk -t1 -c50 -d1800s --latency -s "$WORK/sni.lua" \
        -H "Host: links.shop0.test" "https://links.shop0.test:$HTTPS_PORT/"
    wrk_pid=$STARTED_PID
    seconds=$SECONDS
    probe "$RESULTS/probe-fill.txt" "$first" "$FILL" 8 fill
    # SIGINT makes wrk stop and print its summary
    kill -INT "$wrk_pid" 2>/dev/null || true   # timeout passes the signal on to wrk
    wait_load "$wrk_pid" || true
    kill "$sampler" 2>/dev/null || true
    wait_load "$sampler" || true
    peak=$(sort -n "$RESULTS/rss-samples.txt" | tail -n 1)
    report "under load ($((SECONDS - seconds)) s, load average $(load_average)): $(probe_line "$RESULTS/probe-fill.txt" 'connections in')"
    report "  new names: $(probe_line "$RESULTS/probe-fill.txt" 'server reply ms')"
    report "  new names: $(probe_line "$RESULTS/probe-fill.txt" 'handshake ms')"
    report "  keep-alive alongside: $(parse_wrk "$RESULTS/rss-wrk.txt" | awk '{printf "%d requests, %d req/s, p99 %s ms, %d errors", $1, $2, $3, $4}')"
    report "  peak RSS (sampled every 0.5 s): $((${peak:-0} / 1024)) MiB; VmHWM $(( $(memory_kb "$PROXY_PID" VmHWM) / 1024 )) MiB"
    report "  $(java_heap "$PROXY_PID")"
    if grep -q 'first error' "$RESULTS/probe-fill.txt"; then report "  $(grep -h 'first error' "$RESULTS/probe-fill.txt")"; fi
}
