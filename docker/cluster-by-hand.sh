#!/usr/bin/env bash
# Two clicktls nodes sharing one PostgreSQL behind HAProxy, on this machine and without Docker: the README's
# "Running more than one node", by hand, written down. Linux only (it uses the loopback addresses 127.0.0.2,
# 127.0.0.3 and 127.0.0.10, which Linux answers without any setup).
#
#   127.0.0.10:8443, :8080   HAProxy in TCP mode, PROXY protocol v2 to the nodes (the address clients use)
#   127.0.0.2 / 127.0.0.3    node-1 / node-2: https :8443, http :8080, admin :9090, each with the built-in demo
#                            platform on :8081 of its own address
#   127.0.0.1:55432          a private PostgreSQL cluster (initdb) in the state folder; no system cluster is touched
#   127.0.0.1:14000, :8053   Pebble (the ACME test CA) and pebble-challtestsrv, its DNS: every name resolves to
#                            HAProxy, as a customer's CNAME to the cluster would make it
#
# Needs: Java 17+, the built jar (mvn -B -q package -DskipTests), Debian's postgresql (any version), pebble
# (it brings pebble-challtestsrv), haproxy, curl, openssl.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
jar=$repo/proxy/target/clicktls.jar
state=${TMPDIR:-/tmp}/clicktls-cluster
pg_port=55432
lb=127.0.0.10
nodes=(127.0.0.2 127.0.0.3)

usage() {
  cat <<EOF
usage: docker/cluster-by-hand.sh [start|stop|status] [--state DIR] [--jar FILE] [--pg-port PORT]

  start    make (first time) and start PostgreSQL, Pebble, two nodes and HAProxy, then print what to try;
           again after a kill: starts what is not running
  stop     stop everything this script started (the processes whose ids it wrote to DIR)
  status   what runs, and each node's /healthz
  --state  the folder for the database, the configs, the secrets, the logs and the process ids
           (default: \${TMPDIR:-/tmp}/clicktls-cluster; delete it after stop to start from nothing)
  --jar    the clicktls jar (default: proxy/target/clicktls.jar of this repository)
  --pg-port  the private PostgreSQL's port on 127.0.0.1 (default: 55432)

To watch a node die mid-order, slow the CA before start: PEBBLE_VA_NOSLEEP=0 PEBBLE_VA_SLEEPTIME=20 makes
Pebble wait up to 20 s before each validation (the default here is no wait).
EOF
}

command=start
while [ $# -gt 0 ]; do
  case "$1" in
    start | stop | status) command=$1 ;;
    --state) state=${2:?--state needs a folder}; shift ;;
    --jar) jar=${2:?--jar needs a file}; shift ;;
    --pg-port) pg_port=${2:?--pg-port needs a port}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 64 ;;
  esac
  shift
done

say() { printf '== %s\n' "$*"; }
die() { printf 'cluster-by-hand: %s\n' "$*" >&2; exit 1; }

pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$bin" ] || die "PostgreSQL not found under /usr/lib/postgresql: apt-get install postgresql"
  echo "$bin"
}

# initdb and pg_ctl refuse to run as root: run them as the postgres user then
as_db_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Starts a command in the background, in a session of its own (so it outlives this script), writing its id.
spawn() {
  local name=$1; shift
  setsid sh -c 'echo $$ > "$0"; exec "$@"' "$state/$name.pid" "$@" >> "$state/$name.log" 2>&1 < /dev/null &
  for _ in $(seq 50); do [ -s "$state/$name.pid" ] && return; sleep 0.1; done
  die "$name did not start (see $state/$name.log)"
}

# (a process killed a moment ago may still be a zombie: that is not running)
running() {
  local pid
  pid=$(cat "$state/$1.pid" 2> /dev/null) || return 1
  kill -0 "$pid" 2> /dev/null && ! grep -q '^State:.*zombie' "/proc/$pid/status" 2> /dev/null
}

wait_for() {
  local what=$1 seconds=$2; shift 2
  for _ in $(seq $((seconds * 4))); do "$@" > /dev/null 2>&1 && return; sleep 0.25; done
  die "$what not up after $seconds s"
}

# Whether a log file has a line matching a pattern past a byte offset (this run's part of an appended log).
logged_since() { tail -c +"$(($2 + 1))" "$1" | grep -q -E "$3"; }

stop_all() {
  local name pid
  for name in haproxy node-2 node-1 pebble challtestsrv; do
    if running "$name"; then
      pid=$(cat "$state/$name.pid")
      kill "$pid"
      # a node shuts down in a second or two; one that does not within 20 s is killed
      for _ in $(seq 80); do running "$name" || break; sleep 0.25; done
      if running "$name"; then kill -9 "$pid" && say "killed $name (no exit 20 s after SIGTERM)"; else say "stopped $name"; fi
    fi
    rm -f "$state/$name.pid"
  done
  if [ -f "$state/pg/postmaster.pid" ]; then
    as_db_owner "$(pg_bin)/pg_ctl" -D "$state/pg" -m fast stop > /dev/null && say "stopped PostgreSQL"
  fi
}

database() {
  local bin; bin=$(pg_bin)
  if [ ! -d "$state/pg" ]; then
    say "PostgreSQL: a private cluster in $state/pg on 127.0.0.1:$pg_port"
    mkdir -p "$state/pg" && chmod 700 "$state/pg"
    [ "$(id -u)" = 0 ] && chown postgres "$state/pg" "$state"
    as_db_owner "$bin/initdb" -D "$state/pg" -U postgres --auth-local=trust --auth-host=scram-sha-256 > "$state/initdb.log"
  fi
  if ! as_db_owner "$bin/pg_ctl" -D "$state/pg" status > /dev/null; then
    as_db_owner "$bin/pg_ctl" -D "$state/pg" -l "$state/postgres.log" -w \
      -o "-p $pg_port -k $state -c listen_addresses=127.0.0.1" start > /dev/null
  fi
  if [ ! -s "$state/db-password" ]; then
    # README step 1 (createuser --pwprompt clicktls && createdb --owner clicktls clicktls), without the prompt
    (umask 077 && openssl rand -hex 16 > "$state/db-password")
    as_db_owner "$bin/psql" -q -h "$state" -p "$pg_port" -U postgres -d postgres \
      -c "create role clicktls login password '$(cat "$state/db-password")'" \
      -c "create database clicktls owner clicktls"
  fi
}

# README step 2: the same owner-only secrets on every node
secrets() {
  [ -s "$state/storage.key" ] || (umask 077 && openssl rand -base64 32 > "$state/storage.key")
}

ca() {
  running pebble && return
  say "Pebble on 127.0.0.1:14000 (validating through HAProxy at $lb), pebble-challtestsrv on 127.0.0.1:8053"
  cp "$repo/docker/pebble/cert.pem" "$repo/docker/pebble/key.pem" "$repo/docker/pebble/ca.pem" "$state/"
  cat > "$state/pebble-config.json" <<EOF
{ "pebble": { "listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
  "certificate": "$state/cert.pem", "privateKey": "$state/key.pem",
  "httpPort": 8080, "tlsPort": 8443, "ocspResponderURL": "", "externalAccountBindingRequired": false } }
EOF
  running challtestsrv || spawn challtestsrv pebble-challtestsrv -defaultIPv4 "$lb" -defaultIPv6 "" -dns01 127.0.0.1:8053 \
    -management 127.0.0.1:8055 -http01 "" -https01 "" -tlsalpn01 ""
  PEBBLE_VA_NOSLEEP=${PEBBLE_VA_NOSLEEP-1} spawn pebble pebble -config "$state/pebble-config.json" \
    -dnsserver 127.0.0.1:8053
  wait_for Pebble 30 curl -sf --cacert "$state/ca.pem" https://127.0.0.1:14000/dir
}

# config/examples/cluster.yml, filled in for this machine: only the node's own addresses differ
node_config() {
  local n=$1 address=$2
  cat > "$state/node-$n.yml" <<EOF
listen:
  https: $address:8443
  http: $address:8080
  admin: $address:9090           # HAProxy's health check (GET /healthz) comes here
  proxy_protocol:
    from: [$lb/32]               # HAProxy connects from this address (its "source" below)
storage:
  postgres:
    url: jdbc:postgresql://127.0.0.1:$pg_port/clicktls
    user: clicktls
    password_file: $state/db-password
    encryption_key_file: $state/storage.key
    cache_directory: $state/node-$n-cache
node:
  name: node-$n
certificates:
  issuer: acme
  acme:
    directory: https://127.0.0.1:14000/dir   # Pebble; leave directory out for Let's Encrypt
    trusted_ca: $state/ca.pem                # Pebble's API certificate is signed by this (docker/pebble/ca.pem)
    email: ops@example.com
  on_demand:
    dns_server: 127.0.0.1:8053               # the status page's DNS check asks pebble-challtestsrv
platforms:
  demo: { upstream: "http://$address:8081" }
domains:
  - name: "*.shop.test"
    platform: demo
EOF
}

nodes_up() {
  local n=0 address
  for address in "${nodes[@]}"; do
    n=$((n + 1))
    node_config "$n" "$address"
    java -jar "$jar" check --config "$state/node-$n.yml"
  done
  if ! running node-1 && ! running node-2; then
    say "doctor on node-1 (the database and the CA)"
    java -jar "$jar" doctor --config "$state/node-1.yml" 2> "$state/doctor.log" || die "doctor failed (above)"
  fi
  n=0
  for address in "${nodes[@]}"; do
    n=$((n + 1))
    running "node-$n" && continue
    say "node-$n on $address"
    local from
    from=$(stat -c %s "$state/node-$n.log" 2> /dev/null || echo 0)
    # README's run command: the class-data sharing archive mvn package trains beside the jar, and the heap bound
    spawn "node-$n" java -XX:SharedArchiveFile="${jar%.jar}.jsa" -Xmx768m -jar "$jar" run --config "$state/node-$n.yml" --demo-platform "$address:8081"
    # One node at a time until it has the ACME account, so that each node's start is readable in its own log and
    # the second finds the schema migrated and the account made (starting together is also safe: both are done once).
    wait_for "node-$n's ACME account" 90 logged_since "$state/node-$n.log" "$from" "ACME ready|ACME warm-up against"
  done
  for address in "${nodes[@]}"; do
    wait_for "the node on $address" 90 curl -sf "http://$address:9090/healthz"
  done
}

balancer() {
  running haproxy && return
  say "HAProxy on $lb:8443 and $lb:8080"
  cat > "$state/haproxy.cfg" <<EOF
# docker/haproxy-cluster.cfg without Docker's DNS: the nodes by address
global
    log stdout format raw local0
    maxconn 2000

defaults
    mode tcp
    log global
    option tcplog
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    # the nodes trust PROXY headers only from $lb: connect from there
    default-server source $lb check inter 2s fall 2 rise 2

frontend https
    bind $lb:8443
    default_backend clicktls-https

frontend http
    bind $lb:8080
    default_backend clicktls-http

backend clicktls-https
    balance leastconn
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost
    server node-1 ${nodes[0]}:8443 send-proxy-v2 port 9090
    server node-2 ${nodes[1]}:8443 send-proxy-v2 port 9090

backend clicktls-http
    balance leastconn
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost
    server node-1 ${nodes[0]}:8080 send-proxy-v2 port 9090
    server node-2 ${nodes[1]}:8080 send-proxy-v2 port 9090
EOF
  haproxy -q -c -f "$state/haproxy.cfg"
  spawn haproxy haproxy -f "$state/haproxy.cfg"
}

start() {
  [ -f "$jar" ] || die "no $jar: build it first (mvn -B -q package -DskipTests)"
  for tool in java haproxy pebble pebble-challtestsrv curl openssl; do
    command -v "$tool" > /dev/null || die "$tool not found (apt-get install: see the top of this script)"
  done
  mkdir -p "$state"
  # the nodes run a copy: a JVM reads classes from its jar as it goes, and a rebuild that replaces the jar under
  # running nodes makes them fail (ClassNotFoundException) at their next new class
  running node-1 || running node-2 || cp "$jar" "$state/clicktls.jar"
  jar=$state/clicktls.jar
  database
  secrets
  ca
  nodes_up
  balancer
  # Pebble makes a new root at every start and forgets the old one: keep every root seen, so certificates stored
  # by an earlier start still verify
  (curl -sf --cacert "$state/ca.pem" https://127.0.0.1:15000/roots/0
    curl -sf --cacert "$state/ca.pem" https://127.0.0.1:15000/intermediates/0) >> "$state/pebble-roots.pem"
  cat <<EOF

Running (state, configs and logs in $state). Try, through HAProxy:
  curl -i --cacert $state/pebble-roots.pem --resolve links.shop.test:8443:$lb \\
    'https://links.shop.test:8443/ls/click?to=https://example.com/'
  curl -i --resolve links.shop.test:8080:$lb 'http://links.shop.test:8080/ls/click?to=https://example.com/'
Each node's view (issued_by_node, a lease while a node orders):
  curl -s http://${nodes[0]}:9090/api/domains/links.shop.test; curl -s http://${nodes[1]}:9090/api/domains/links.shop.test
  status pages: http://${nodes[0]}:9090/status and http://${nodes[1]}:9090/status
Kill the node that holds a name's lease mid-order (the "lease" in /api/domains/NAME): kill -9 \$(cat $state/node-N.pid);
the other node orders once the lease runs out (30 s). Start it again: docker/cluster-by-hand.sh start --state $state
Stop everything: docker/cluster-by-hand.sh stop --state $state
EOF
}

status() {
  local name n=0 address
  for name in challtestsrv pebble node-1 node-2 haproxy; do
    if running "$name"; then echo "$name: running ($(cat "$state/$name.pid"))"; else echo "$name: not running"; fi
  done
  for address in "${nodes[@]}"; do
    n=$((n + 1))
    echo "node-$n /healthz: $(curl -s -m 2 "http://$address:9090/healthz" || echo unreachable)"
  done
}

case "$command" in
  start) start ;;
  stop) stop_all ;;
  status) status ;;
esac
