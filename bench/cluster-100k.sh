#!/usr/bin/env bash
# Cluster mode on PostgreSQL against issue 15's performance figures:
#   1. a PostgreSQL (Debian's server binaries, a cluster of its own in --data, run as the postgres user) with
#      100,000 certificates in clicktls's `entry` table: bench/scale-100k.sh's data set bulk-loaded with COPY (one node
#      starts once against the empty database so that Flyway makes the tables); kept for later runs;
#   2. one node: start to serving (process start → first 302 over TLS for a name only in PostgreSQL), handshakes for
#      names not in memory (read from PostgreSQL) one at a time after a warm-up on other names, RSS after start and
#      its peak under a fill load (as scale-100k.sh measures them, with lib.sh's functions);
#   3. three nodes on one fresh schema (same ports on 127.0.0.1, .2 and .3) against Pebble and pebble-challtestsrv,
#      facing --new distinct new names at once, spread over the nodes: the orders Pebble received (its log lines
#      for new orders) and the certificates stored, each node's peak RSS.
# Every figure carries the load average when it was taken: the machine may be shared.
set -euo pipefail

usage() {
    cat <<'EOF2'
usage: bench/cluster-100k.sh [options]

  --count N               certificates in PostgreSQL (default: 100000; the data set of scale-100k.sh --count N)
  --scale-data DIR        scale-100k.sh's data set (default: /tmp/clicktls-scale-N; made by scale-100k.sh if absent)
  --data DIR              where the PostgreSQL cluster with the loaded certificates is kept (default:
                          /tmp/clicktls-cluster-N)
  --probe N               names for the not-in-memory handshake measurement (default: 2000)
  --warm N                names that warm the probe and the node up first (default: 3000)
  --fill N                names handshaken under load for the RSS figure (default: 5000)
  --new N                 distinct new names the three nodes face at once (default: 1000)
  --skip PARTS            leave out parts, comma-separated: handshakes, rss, cluster
  --no-build              do not run `mvn -B -q package -DskipTests` first
  --repo DIR              clicktls source tree to build and run (default: this script's repository)
  --jar FILE              clicktls jar (default: DIR/proxy/target/clicktls.jar)
  --jvm-flags "FLAGS"     JVM flags for clicktls (default: README's, readme_jvm_flags in lib.sh)
  --port-base N           first port to try (default: 18300)
  --results DIR           where raw output goes (default: bench/results/cluster-<timestamp>)
  --keep                  keep the temporary directory (configs, logs)
EOF2
}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
COUNT=100000
SCALE_DATA=""
DATA=""
PROBE=2000
WARM_NAMES=3000
FILL=5000
NEW=1000
BUILD=1
JAR=""
JVM_FLAGS=""
JVM_FLAGS_GIVEN=0
PORT_BASE=18300
RESULTS=""
KEEP=0
SKIP=","
PG_BIN=/usr/lib/postgresql/15/bin

# shellcheck source=bench/options.sh
. "$BENCH_DIR/options.sh"
while [ $# -gt 0 ]; do
    case "$1" in
        --count) COUNT=$2; shift ;;
        --scale-data) SCALE_DATA=$2; shift ;;
        --data) DATA=$2; shift ;;
        --probe) PROBE=$2; shift ;;
        --warm) WARM_NAMES=$2; shift ;;
        --fill) FILL=$2; shift ;;
        --new) NEW=$2; shift ;;
        --skip) SKIP=",$2,"; shift ;;
        -h|--help) usage; exit 0 ;;
        *)
            common_option "$@" || { echo "cluster-100k.sh: unknown option $1" >&2; usage >&2; exit 64; }
            shift $((COMMON_WORDS - 1))
            ;;
    esac
    shift
done
check_skip cluster-100k.sh handshakes rss cluster
whole_numbers cluster-100k.sh "$COUNT" "$PROBE" "$WARM_NAMES" "$FILL" "$NEW" "$PORT_BASE"
[ $((WARM_NAMES + PROBE + FILL + 1)) -le "$COUNT" ] \
    || { echo "cluster-100k.sh: --count must exceed --warm + --probe + --fill" >&2; exit 64; }
JAR=${JAR:-$REPO/proxy/target/clicktls.jar}
SCALE_DATA=${SCALE_DATA:-/tmp/clicktls-scale-$COUNT}
DATA=${DATA:-/tmp/clicktls-cluster-$COUNT}
RESULTS=${RESULTS:-$BENCH_DIR/results/cluster-$(date +%Y%m%d-%H%M%S)}

# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
[ "$JVM_FLAGS_GIVEN" -eq 1 ] || JVM_FLAGS=$(readme_jvm_flags "$JAR")

for tool in java nginx wrk curl ss python3 pebble pebble-challtestsrv "$PG_BIN/pg_ctl" "$PG_BIN/psql"; do
    command -v "$tool" >/dev/null || die "$tool is needed"
done
[ "$BUILD" -eq 0 ] || command -v mvn >/dev/null || die "mvn is needed to build clicktls (or --no-build)"
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
WORK=$(mktemp -d /tmp/clicktls-cluster-run.XXXXXX)
chmod 755 "$WORK"
build_clicktls
[ -f "$JAR" ] || die "no clicktls jar at $JAR"

# --- PostgreSQL -------------------------------------------------------------------------------------------
# initdb refuses root: the cluster belongs to the postgres user (Debian's package makes it), else to nobody.
PG_USER=postgres
id "$PG_USER" >/dev/null 2>&1 || PG_USER=nobody
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi; }
PG_DIR=$DATA/pgdata

psql_bench() { as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DATA" -p "$PG_PORT" -U clicktls -d clicktls "$@"; }

start_postgres() {
    if [ ! -f "$PG_DIR/PG_VERSION" ]; then
        log "initdb in $PG_DIR (user $PG_USER)"
        mkdir -p "$DATA"
        [ "$(id -u)" -ne 0 ] || chown "$PG_USER" "$DATA"
        as_pg "$PG_BIN/initdb" -D "$PG_DIR" -U clicktls --auth=trust -E UTF8 >"$RESULTS/initdb.log" 2>&1 \
            || { cat "$RESULTS/initdb.log" >&2; die "initdb failed"; }
    fi
    free_port PG_PORT
    # the socket in $DATA (not /var/run/postgresql); TCP on loopback for the nodes
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR" -l "$DATA/postgres.log" -w -t 60 \
        -o "-p $PG_PORT -k $DATA -c listen_addresses=127.0.0.1 -c max_connections=200" start >&2 \
        || { tail -n 20 "$DATA/postgres.log" >&2; die "PostgreSQL did not start"; }
    PG_STARTED=1
    as_pg "$PG_BIN/psql" -X -q -h "$DATA" -p "$PG_PORT" -U clicktls -d postgres -tAc \
        "select 1 from pg_database where datname = 'clicktls'" | grep -q 1 \
        || as_pg "$PG_BIN/createdb" -h "$DATA" -p "$PG_PORT" -U clicktls clicktls
    log "PostgreSQL $(as_pg "$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT, data in $PG_DIR"
}

PG_STARTED=0
stop_postgres() {
    [ "$PG_STARTED" -eq 1 ] || return 0
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR" -m fast -w stop >/dev/null 2>&1 || true
    PG_STARTED=0
}
# lib.sh's trap stops the servers; PostgreSQL is stopped with pg_ctl (it forks away from this script)
trap 'status=$?; stop_postgres; (exit "$status"); cleanup' EXIT

# storage.postgres for a node; $1: the schema, $2: the node's local copy
postgres_storage_yaml() {
    cat <<EOF2
storage:
  postgres:
    url: jdbc:postgresql://127.0.0.1:$PG_PORT/clicktls
    user: clicktls
    password: bench
    schema: $1
    cache_directory: $2
EOF2
}

# --- data set: scale-100k.sh's storage folder, bulk-loaded ------------------------------------------------
load_certificates() {
    if [ -f "$DATA/loaded" ]; then
        log "reusing the loaded database in $DATA ($(cat "$DATA/loaded"))"
        return 0
    fi
    if [ ! -f "$SCALE_DATA/complete" ]; then
        log "no data set in $SCALE_DATA: making it with scale-100k.sh (its measurements skipped but start to serving)"
        "$BENCH_DIR/scale-100k.sh" --count "$COUNT" --data "$SCALE_DATA" --no-build --jar "$JAR" \
            --skip handshakes,rss,reloads --results "$RESULTS/scale-data" >&2
    fi
    local started=$SECONDS node_pid rows
    # Flyway makes the schema when a node first opens the database: one node started and stopped, no domains
    log "creating the schema: one node started once against the database"
    free_port HTTPS_PORT; free_port HTTP_PORT; free_port ADMIN_PORT
    cat > "$WORK/migrate.yml" <<EOF2
listen:
  https: 127.0.0.1:$HTTPS_PORT
  http: 127.0.0.1:$HTTP_PORT
  admin: 127.0.0.1:$ADMIN_PORT
$(postgres_storage_yaml clicktls "$WORK/migrate-cache")
certificates:
  issuer: internal
platforms:
  bench:
    upstream: http://127.0.0.1:9
domains:
  - name: migrate.bench.test
    platform: bench
EOF2
    start_server "$RESULTS/migrate.log" java -jar "$JAR" run --config "$WORK/migrate.yml"
    node_pid=$STARTED_PID
    local i
    for i in $(seq 1 600); do
        grep -aq ' serving https ' "$RESULTS/migrate.log" && break
        kill -0 "$node_pid" 2>/dev/null || { tail -n 30 "$RESULTS/migrate.log" >&2; die "the node exited"; }
        sleep 0.2
    done
    stop_server "$node_pid"
    psql_bench -c "select count(*) from clicktls.entry" >/dev/null || die "no entry table after the node's start"
    # One COPY row per file of the storage folder: key (its path), value as bytea hex, version 1..N, written a day
    # ago; no encryption key is configured, so values are stored plain, as PostgresStorage writes them without one.
    # The day matters: a node's change feed also re-reads rows written in the 10 s before its first sync (commits
    # that came late), so rows stamped "now" would all reach a node started right after the load as changes made
    # elsewhere (300,000 tasks for its blocking executor) and measure that instead of a node joining a cluster.
    log "writing the COPY file from $SCALE_DATA/storage"
    python3 - "$SCALE_DATA/storage" "$WORK/entries.copy" "$(date -u -d '1 day ago' +%Y-%m-%dT%H:%M:%SZ)" <<'PY'
import os, sys
root, out, written = sys.argv[1], sys.argv[2], sys.argv[3]
version = 0
with open(out, "w") as rows:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))   # .locks and temporary files are not keys
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                value = f.read()
            version += 1
            key = os.path.relpath(path, root)
            rows.write(f"{key}\t\\\\x{value.hex()}\t{version}\t{written}\n")
print(version)
PY
    rows=$(wc -l < "$WORK/entries.copy")
    chmod 644 "$WORK/entries.copy"
    log "COPY of $rows rows into clicktls.entry"
    psql_bench <<SQL
begin;
delete from clicktls.entry;
\copy clicktls.entry (key, value, version, updated_at) from '$WORK/entries.copy'
select setval('clicktls.entry_version', (select max(version) from clicktls.entry));
commit;
analyze clicktls.entry;
SQL
    rm -f "$WORK/entries.copy"
    echo "$rows keys ($COUNT certificates) of $SCALE_DATA, loaded in $((SECONDS - started)) s on $(date -u +%Y-%m-%d)" \
        > "$DATA/loaded"
    report "bulk load: $(cat "$DATA/loaded")"
}

# --- one node: start, handshakes for names only in PostgreSQL, RSS ----------------------------------------
write_node_config() {
    free_port HTTPS_PORT; free_port HTTP_PORT; free_port ADMIN_PORT
    CONFIG=$WORK/node.yml
    {
        echo "# $COUNT names, one a line"
        cat "$SCALE_DATA/names.txt"
    } > "$WORK/domains.txt"
    cat > "$CONFIG" <<EOF2
listen:
  https: 127.0.0.1:$HTTPS_PORT
  http: 127.0.0.1:$HTTP_PORT
  admin: 127.0.0.1:$ADMIN_PORT
$(postgres_storage_yaml clicktls "$WORK/node-cache")
node:
  name: bench-1
certificates:
  issuer: internal
  key_type: ec256
platforms:
  bench:
    upstream: http://127.0.0.1:$NGINX_PORT
domains_file: domains.txt
EOF2
    cp "$CONFIG" "$RESULTS/node.yml"
}

one_node() {
    write_node_config
    # the node's local copy starts empty (a new folder), so every certificate comes from PostgreSQL
    start_and_time "$(sed -n "${COUNT}p" "$ORDER")" "$RESULTS/clicktls.log" "$CONFIG"
    if ! skipped handshakes; then
        log "warming the probe and the node on $WARM_NAMES names"
        probe "$RESULTS/probe-warmup.txt" 0 "$WARM_NAMES" 2 warm-up
        wait_for_index_scan "$PROXY_START_MS"
        not_in_memory_handshakes
    fi
    skipped rss || rss_under_load
    report "  PostgreSQL: $(psql_bench -tAc "select count(*) || ' entries, ' || pg_size_pretty(pg_total_relation_size('clicktls.entry')) from clicktls.entry")"
    stop_server "$PROXY_PID"
    report "  $(grep -a -c -E ' (WARN|ERROR) ' "$RESULTS/clicktls.log" || true) WARN/ERROR lines in the node's log"
}

# --- three nodes, Pebble, NEW new names at once -----------------------------------------------------------
start_pebble() {
    local dir=$WORK/pebble i
    mkdir -p "$dir"
    free_port ACME_PORT; free_port ACME_MGMT_PORT; free_port DNS_PORT; free_port DNS_MGMT_PORT
    # Pebble's API certificate for 127.0.0.1, made here (Pebble's own test certificate may not be installed)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=pebble \
        -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
    cat > "$dir/pebble-config.json" <<EOF2
{
  "pebble": {
    "listenAddress": "127.0.0.1:$ACME_PORT",
    "managementListenAddress": "127.0.0.1:$ACME_MGMT_PORT",
    "certificate": "$dir/cert.pem",
    "privateKey": "$dir/key.pem",
    "httpPort": $HTTP_PORT,
    "tlsPort": $HTTPS_PORT,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
EOF2
    # names resolve to 127.0.0.1 (node 1) unless add_a says otherwise (cluster_nodes spreads them over the nodes)
    start_server "$RESULTS/challtestsrv.log" pebble-challtestsrv -dns01 "127.0.0.1:$DNS_PORT" -http01 "" \
        -https01 "" -tlsalpn01 "" -defaultIPv6 "" -defaultIPv4 127.0.0.1 -management "127.0.0.1:$DNS_MGMT_PORT"
    PEBBLE_ENV=(PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0)
    start_server "$RESULTS/pebble.log" env "${PEBBLE_ENV[@]}" pebble -config "$dir/pebble-config.json" \
        -dnsserver "127.0.0.1:$DNS_PORT"
    PEBBLE_PID=$STARTED_PID
    for i in $(seq 1 100); do
        curl -s -o /dev/null --cacert "$dir/cert.pem" "https://127.0.0.1:$ACME_PORT/dir" && return 0
        sleep 0.1
    done
    die "Pebble did not start (see $RESULTS/pebble.log)"
}

# "label=count, ..." for the non-zero series of counter $2 in the Prometheus text file $1, by label $3.
metric_counts() {
    awk -v name="$2" -v label="$3" '
        index($0, name "{") == 1 && $NF + 0 > 0 {
            match($0, label "=\"[^\"]*\""); value = substr($0, RSTART + length(label) + 2, RLENGTH - length(label) - 3)
            printf "%s%s=%d", (n++ ? ", " : ""), value, $NF
        }
        END { if (!n) printf "none" }' "$1"
}

# Orders Pebble received: its log line for each new order.
pebble_orders() { grep -c 'Added order "[^"]*" to the db' "$RESULTS/pebble.log" || true; }

cluster_nodes() {
    local schema node address pids=() i first per
    schema=bench_cluster
    psql_bench -c "drop schema if exists $schema cascade" >/dev/null
    free_port HTTPS_PORT; free_port HTTP_PORT; free_port ADMIN_PORT
    start_pebble
    # names under one wildcard entry: on demand (no prefetch), all in one registered domain, from one client
    # address, so every budget below is raised past NEW: the run measures orders, not the limits
    seq 0 $((NEW - 1)) | awk '{printf "n%d.cluster.test\n", $1}' | shuf --random-source=<(yes) > "$WORK/new-names.txt"
    for node in 1 2 3; do
        address=127.0.0.$node
        cat > "$WORK/cluster-$node.yml" <<EOF2
listen:
  https: $address:$HTTPS_PORT
  http: $address:$HTTP_PORT
  admin: $address:$ADMIN_PORT
$(postgres_storage_yaml "$schema" "$WORK/cluster-cache-$node")
node:
  name: bench-$node
certificates:
  issuer: acme
  key_type: ec256
  acme:
    directory: https://127.0.0.1:$ACME_PORT/dir
    trusted_ca: $WORK/pebble/cert.pem
  on_demand:
    dns_server: 127.0.0.1:$DNS_PORT
    handshake_wait: 60s
    pending_handshakes:
      per_client: $((NEW + 100))
      total: $((NEW + 100))
  limits:
    orders_per_3h: $((NEW * 10))
    certificates_per_registered_domain_per_week: $((NEW * 10))
    new_names_per_client_per_registered_domain_per_week: $((NEW * 10))
platforms:
  bench:
    upstream: http://127.0.0.1:$NGINX_PORT
domains:
  - name: "*.cluster.test"
    platform: bench
EOF2
        cp "$WORK/cluster-$node.yml" "$RESULTS/"
        start_server "$RESULTS/cluster-$node.log" java $JVM_FLAGS -jar "$JAR" run --config "$WORK/cluster-$node.yml"
        pids+=("$STARTED_PID")
    done
    CLUSTER_PIDS=("${pids[@]}")
    for node in 1 2 3; do
        for i in $(seq 1 600); do
            grep -aq ' serving https ' "$RESULTS/cluster-$node.log" && break
            kill -0 "${pids[$((node - 1))]}" 2>/dev/null || { tail -n 30 "$RESULTS/cluster-$node.log" >&2; die "node $node exited"; }
            sleep 0.2
        done
    done
    # For the CA the names resolve to the three nodes in thirds, each third to the node asked for it last:
    # validations are spread and answered by a node other than the first one asked (the one that orders).
    per=$(( (NEW + 2) / 3 ))
    log "DNS for the CA: $NEW names spread over the three nodes (pebble-challtestsrv add-a)"
    for i in $(seq 0 $((NEW - 1))); do
        address=127.0.0.$(( (i / per + 1) % 3 + 1 ))
        curl -s -o /dev/null -X POST -d "{\"host\":\"$(sed -n "$((i + 1))p" "$WORK/new-names.txt")\",\"addresses\":[\"$address\"]}" \
            "http://127.0.0.1:$DNS_MGMT_PORT/add-a" || die "pebble-challtestsrv refused add-a"
    done
    log "three nodes serve on 127.0.0.1-3:$HTTPS_PORT; $NEW new names at once (load average $(load_average))"
    local probes=() t0 samplers=()
    for node in 1 2 3; do
        PROXY_PID=${pids[$((node - 1))]}
        start_load "$RESULTS/cluster-rss-$node.txt" sample_rss
        samplers+=("$STARTED_PID")
    done
    # every name reaches every node, each node starting a third further into the list (node 1 at name 0, node 2 at
    # name NEW/3, ...), a third of the names in flight per node: while node 1 orders a name, node 2 or 3 is asked
    # for it too, seconds later (after the probe's 10 s read timeout on the names before): one order cluster-wide
    # per name, or one per node that got there before the certificate was stored
    for node in 1 2 3; do
        first=$(( (node - 1) * per ))
        { tail -n +$((first + 1)) "$WORK/new-names.txt"; head -n "$first" "$WORK/new-names.txt"; } > "$WORK/new-names-$node.txt"
    done
    t0=$SECONDS
    for node in 1 2 3; do
        start_load "$RESULTS/cluster-probe-$node.txt" timeout 1800 java -XX:+UseSerialGC \
            "$BENCH_DIR/scale/HandshakeProbe.java" "127.0.0.$node" "$HTTPS_PORT" "$WORK/new-names-$node.txt" 0 "$NEW" \
            "$per" "node$node"
        probes+=("$STARTED_PID")
    done
    for i in "${probes[@]}"; do wait_load "$i" || true; done
    report "cluster: $NEW new names at once over 3 nodes, handshakes done in $((SECONDS - t0)) s (load average $(load_average))"
    for node in 1 2 3; do
        report "  node $node: $(probe_line "$RESULTS/cluster-probe-$node.txt" 'connections in'); $(probe_line "$RESULTS/cluster-probe-$node.txt" 'handshake ms')"
    done
    # orders go on after the handshakes gave up waiting (the probe's 10 s read timeout): wait until neither the
    # orders nor the stored certificates have moved for 30 s (at most 15 min)
    local stored orders now last="" still=0
    while :; do
        stored=$(psql_bench -tAc "select count(*) from $schema.entry where key like 'certificates/%/meta.json'")
        orders=$(pebble_orders)
        now="$stored $orders"
        if [ "$now" = "$last" ]; then still=$((still + 1)); else still=0; fi
        if [ "$still" -ge 15 ] || [ $((SECONDS - t0)) -ge 900 ]; then break; fi
        last=$now
        sleep 2
    done
    for i in "${samplers[@]}"; do kill "$i" 2>/dev/null || true; wait_load "$i" || true; done
    stored=$(psql_bench -tAc "select count(*) from $schema.entry where key like 'certificates/%/meta.json'")
    report "  orders Pebble received: $(pebble_orders) (for $NEW names); certificates stored: $stored ($((SECONDS - t0)) s after the start of the burst, load average $(load_average))"
    report "  failed orders logged by the nodes: $(cat "$RESULTS"/cluster-?.log | grep -a -c 'could not issue a certificate' || true); first: $(cat "$RESULTS"/cluster-?.log | grep -a -m1 'could not issue a certificate' | sed 's/^.* - //' | cut -c1-240)"
    for node in 1 2 3; do
        report "  node $node: peak RSS $(( $(sort -n "$RESULTS/cluster-rss-$node.txt" | tail -n 1) / 1024 )) MiB, VmHWM $(( $(memory_kb "${pids[$((node - 1))]}" VmHWM) / 1024 )) MiB; $(grep -a -c -E ' (WARN|ERROR) ' "$RESULTS/cluster-$node.log" || true) WARN/ERROR log lines"
        # what each node answered: handshake outcomes (the CA's validations included) and refused names, by reason
        curl -s "http://127.0.0.$node:$ADMIN_PORT/metrics" > "$RESULTS/cluster-metrics-$node.txt" || true
        report "    handshakes: $(metric_counts "$RESULTS/cluster-metrics-$node.txt" clicktls_tls_handshakes_total result); on-demand refusals: $(metric_counts "$RESULTS/cluster-metrics-$node.txt" clicktls_on_demand_denied_total reason)"
    done
    for i in "${pids[@]}"; do stop_server "$i"; done
    stop_server "$PEBBLE_PID"
}

# --- main -------------------------------------------------------------------------------------------------
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(uname -r)"
    echo "clicktls: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'), java ${JVM_FLAGS:-(no JVM flags)}"
    echo "load average before the run: $(load_average)"
} | tee "$RESULTS/environment.txt" >&2

start_postgres
load_certificates
ORDER=$WORK/order.txt
shuf --random-source=<(yes) "$SCALE_DATA/names.txt" > "$ORDER"
write_wrk_script
start_nginx
one_node
skipped cluster || cluster_nodes
{
    echo
    cat "$RESULTS/environment.txt"
    echo "data: $(cat "$DATA/loaded")"
    echo
    printf '%s' "$REPORT"
} | tee "$RESULTS/report.txt"
