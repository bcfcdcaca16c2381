#!/usr/bin/env bash
# Cold first handshake against a local ACME CA (issue 3, "Fast"): how long the first TLS handshake for a
# never-seen name takes when clicktls has to get its certificate from Pebble during that handshake.
#
# Starts Pebble (PEBBLE_VA_NOSLEEP=1) with pebble-challtestsrv as its DNS server, the proxy built from this tree
# with `issuer: acme` and its built-in stand-in platform, then curls never-seen names one at a time and reads
# curl's time_appconnect (TCP connect + the whole TLS handshake, issuance included). Everything listens on
# 127.0.0.1 and is stopped on exit, Ctrl-C included. Raw numbers and logs land in bench/results/<timestamp>/.
#
# Rounds (each on a fresh Pebble or a fresh proxy, as noted in the report):
#   headline  PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0: every order is validated, no nonce retries
#   defaults  Pebble's own defaults (5% of nonces rejected, 50% authorization reuse)
#   caddy     (--caddy) Caddy with on-demand TLS on the headline Pebble, same loop
#
# Files in bench/results/<timestamp>/: report.txt (what is printed), <round>-{first,sequential,parallel,repeat}.tsv
# (name, time_appconnect s, time_total s, http code, curl exit, curl error, launch and exit epoch), and the logs of
# Pebble, the DNS server, the proxy and Caddy. --trace adds a per-phase table (bench/acme/trace-phases.py).
#
# Usage: bench/acme-cold-handshake.sh [--no-build] [-n N] [--parallel P] [--warmup K] [--challenges LIST] [--caddy]
#                                     [--no-defaults] [--debug] [--trace] [--java-opts "OPTS"] [--budget SECONDS]
#                                     [--keep]
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/acme-cold-handshake.sh [options]
  --no-build          use the existing proxy/target/clicktls.jar
  -n N                never-seen names measured one at a time per round (default 30)
  --parallel P        names measured in a parallel burst per round (default 5; 0 skips the burst)
  --warmup K          handshakes for throwaway names before measuring (default 1: the first after start)
  --challenges LIST   clicktls challenge order, comma separated (default tls-alpn-01,http-01)
  --caddy             also measure Caddy's on-demand TLS on the same Pebble (needs `caddy` on PATH)
  --no-defaults       skip the round with Pebble's default nonce rejection and authorization reuse
  --debug             CLICKTLS_LOG_LEVEL=debug for the proxy (per-phase timings of each order), `debug` for Caddy
  --trace             --debug, plus acme4j's request log with millisecond timestamps (bench/acme/logback-trace.xml)
  --java-opts "OPTS"  extra JVM options for the proxy, for experiments (e.g. "-XX:TieredStopAtLevel=1")
  --budget SECONDS    stop starting new handshakes after this many seconds in all (default 170)
  --keep              keep the temporary directory (configs, keys, logs) instead of deleting it
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JAR=$ROOT/proxy/target/clicktls.jar
N=30
PARALLEL=5
WARMUP=1
CHALLENGES=tls-alpn-01,http-01
BUILD=1
CADDY=0
DEFAULTS=1
DEBUG=0
TRACE=0
JAVA_OPTS=()
BUDGET=170
KEEP=0
MAX_TIME=12          # per curl; the proxy's handshake_wait is 10 s
DOMAIN=cold.test

while [ $# -gt 0 ]; do
    case $1 in
        --no-build) BUILD=0 ;;
        -n) N=${2:?-n needs a number}; shift ;;
        --parallel) PARALLEL=${2:?--parallel needs a number}; shift ;;
        --warmup) WARMUP=${2:?--warmup needs a number}; shift ;;
        --challenges) CHALLENGES=${2:?--challenges needs a list}; shift ;;
        --caddy) CADDY=1 ;;
        --no-defaults) DEFAULTS=0 ;;
        --debug) DEBUG=1 ;;
        --trace) TRACE=1; DEBUG=1 ;;
        --java-opts) read -r -a JAVA_OPTS <<<"${2:?--java-opts needs options}"; shift ;;
        --budget) BUDGET=${2:?--budget needs seconds}; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 64 ;;
    esac
    shift
done
case $N$PARALLEL$BUDGET$WARMUP in *[!0-9]*) echo "-n, --parallel, --warmup and --budget take whole numbers" >&2; exit 64 ;; esac
for c in ${CHALLENGES//,/ }; do
    case $c in tls-alpn-01|http-01) ;; *) echo "unknown challenge: $c" >&2; exit 64 ;; esac
done

need() { command -v "$1" >/dev/null || { echo "missing: $1 ($2)" >&2; exit 69; }; }
need pebble "apt-get install pebble"
need pebble-challtestsrv "apt-get install pebble"
need openssl "apt-get install openssl"
need curl "apt-get install curl"
need java "a Java 17+ runtime"
need python3 "used to find free ports"
if [ "$CADDY" = 1 ]; then need caddy "apt-get install caddy"; fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/clicktls-coldbench.XXXXXX")
OUT=$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)
[ ! -e "$OUT" ] || OUT=$OUT-$$
mkdir -p "$OUT"
REPORT=$OUT/report.txt
declare -A PID=()

# ---- processes: started by name, stopped by their own pid only

start_bg() { # name command...
    local name=$1; shift
    "$@" >"$WORK/$name.log" 2>&1 &
    PID[$name]=$!
}

stop_bg() { # name
    local name=$1 pid=${PID[$1]:-} i
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    unset "PID[$name]"
}

alive() { local pid=${PID[$1]:-}; [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

cleanup() {
    local name
    trap - INT TERM
    for name in "${!PID[@]}"; do stop_bg "$name"; done
    cp "$WORK"/*.log "$OUT"/ 2>/dev/null || true
    if [ "$KEEP" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'echo; echo "interrupted: stopping everything this script started" >&2; exit 130' INT TERM

say() { echo "$@" | tee -a "$REPORT"; }
elapsed() { echo $((SECONDS)); }
over_budget() { [ "$SECONDS" -ge "$BUDGET" ]; }

wait_for() { # description seconds process-name command...: polls until the command succeeds
    local what=$1 seconds=$2 proc=$3; shift 3
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if [ -n "$proc" ] && ! alive "$proc"; then
            echo "$what: $proc exited; its log:" >&2; tail -n 30 "$WORK/$proc.log" >&2; exit 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "$what: not ready after $seconds s; log of $proc:" >&2; tail -n 30 "$WORK/$proc.log" >&2; exit 1
        fi
        sleep 0.05
    done
}

# ---- build

if [ "$BUILD" = 1 ]; then
    echo "building proxy/target/clicktls.jar ..."
    (cd "$ROOT" && mvn -B -q -o package -DskipTests 2>&1 || mvn -B -q package -DskipTests) >"$WORK/build.log" 2>&1 \
        || { tail -n 40 "$WORK/build.log" >&2; exit 1; }
fi
[ -f "$JAR" ] || { echo "no $JAR: run without --no-build" >&2; exit 1; }

# ---- ports (all loopback, all free when asked; held until every one is chosen so none repeats)

read -r P_ACME P_MGMT P_DNS P_DNSMGMT P_HTTPS P_HTTP P_ADMIN P_DEMO P_CADDY_ADMIN < <(python3 -c '
import socket
held = []
for _ in range(9):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))')

# ---- Pebble's API certificate: a throwaway CA and a leaf for localhost / 127.0.0.1

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=clicktls coldbench pebble api ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$WORK/api-ca.key" -out "$WORK/api-ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
    -keyout "$WORK/api.key" -out "$WORK/api.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' \
    >"$WORK/api.ext"
openssl x509 -req -in "$WORK/api.csr" -CA "$WORK/api-ca.pem" -CAkey "$WORK/api-ca.key" -CAcreateserial \
    -days 2 -extfile "$WORK/api.ext" -out "$WORK/api.pem" 2>/dev/null

cat >"$WORK/pebble.json" <<EOF
{
  "pebble": {
    "listenAddress": "127.0.0.1:$P_ACME",
    "managementListenAddress": "127.0.0.1:$P_MGMT",
    "certificate": "$WORK/api.pem",
    "privateKey": "$WORK/api.key",
    "httpPort": $P_HTTP,
    "tlsPort": $P_HTTPS,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
EOF
DIRECTORY=https://127.0.0.1:$P_ACME/dir
PEBBLE_ROOT=$WORK/pebble-root.pem

start_dns() {
    start_bg challtestsrv pebble-challtestsrv -dns01 "127.0.0.1:$P_DNS" -http01 "" -https01 "" -tlsalpn01 "" \
        -defaultIPv6 "" -management "127.0.0.1:$P_DNSMGMT"
}

start_pebble() { # settings: headline | defaults
    local env=(PEBBLE_VA_NOSLEEP=1)
    if [ "$1" = headline ]; then env+=(PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0); fi
    # Pebble's log is appended per start so one file keeps every round
    echo "=== pebble start: $1 (${env[*]})" >>"$WORK/pebble-all.log"
    start_bg pebble env "${env[@]}" pebble -config "$WORK/pebble.json" -dnsserver "127.0.0.1:$P_DNS"
    wait_for "pebble directory" 20 pebble curl -sf --cacert "$WORK/api-ca.pem" "$DIRECTORY"
    # the issuing root is new on every start
    curl -sfk "https://127.0.0.1:$P_MGMT/roots/0" -o "$PEBBLE_ROOT"
    PEBBLE_ENV="${env[*]}"
}

stop_pebble() {
    stop_bg pebble
    cat "$WORK/pebble.log" >>"$WORK/pebble-all.log" 2>/dev/null || true
}

orders() { grep -c 'Added order' "$WORK/pebble.log" 2>/dev/null || true; }

# ---- clicktls

start_clicktls() { # label
    local label=$1 data=$WORK/data-$1 challenges=${CHALLENGES//,/, }
    cat >"$WORK/clicktls-$label.yml" <<EOF
listen:
  https: 127.0.0.1:$P_HTTPS
  http: 127.0.0.1:$P_HTTP
  admin: 127.0.0.1:$P_ADMIN
storage:
  directory: $data
certificates:
  issuer: acme
  acme:
    directory: $DIRECTORY
    email: bench@example.com
    trusted_ca: $WORK/api-ca.pem
    challenges: [$challenges]
  on_demand:
    handshake_wait: 10s
platforms:
  stand-in:
    upstream: http://127.0.0.1:$P_DEMO
domains:
  - name: "*.$DOMAIN"
    platform: stand-in
EOF
    local level=INFO java=(java "${JAVA_OPTS[@]}")
    [ "$DEBUG" = 1 ] && level=debug
    [ "$TRACE" = 1 ] && java+=("-Dlogback.configurationFile=$ROOT/bench/acme/logback-trace.xml")
    start_bg "clicktls-$label" env CLICKTLS_LOG_LEVEL=$level "${java[@]}" -jar "$JAR" run \
        --config "$WORK/clicktls-$label.yml" --demo-platform "127.0.0.1:$P_DEMO"
    wait_for "clicktls /healthz" 60 "clicktls-$label" curl -sf "http://127.0.0.1:$P_ADMIN/healthz"
    # the account is registered in the background at startup: a long-running proxy has it long before a click
    wait_for "clicktls ACME warm-up" 30 "clicktls-$label" grep -qE 'ACME ready|ACME warm-up .* failed' \
        "$WORK/clicktls-$label.log"
}

# ---- Caddy

start_caddy() {
    local extra="" extra_global
    case ",$CHALLENGES," in *,http-01,*) ;; *) extra+=$'\t\tdisable_http_challenge\n' ;; esac
    case ",$CHALLENGES," in *,tls-alpn-01,*) ;; *) extra+=$'\t\tdisable_tlsalpn_challenge\n' ;; esac
    mkdir -p "$WORK/caddy-home"
    [ "$DEBUG" = 1 ] && extra_global=$'\tdebug\n' || extra_global=""
    cat >"$WORK/Caddyfile" <<EOF
{
${extra_global}	admin 127.0.0.1:$P_CADDY_ADMIN
	default_bind 127.0.0.1
	http_port $P_HTTP
	https_port $P_HTTPS
	storage file_system $WORK/caddy-data
	skip_install_trust
	ocsp_stapling off
	cert_issuer acme {
		dir $DIRECTORY
		trusted_roots $WORK/api-ca.pem
		email bench@example.com
${extra}	}
	on_demand_tls {
		ask http://127.0.0.1:$P_DEMO/
		interval 1m
		burst 1000
	}
}
https:// {
	tls {
		on_demand
	}
	reverse_proxy 127.0.0.1:$P_DEMO
}
EOF
    # interval/burst: without them Caddy 2.6.2 refused one in five first handshakes of a parallel burst ("on-demand
    # rate limit exceeded"); set generously so the comparison is about issuance. Its internal limit of 10 orders per
    # 10 s per account (certmagic, not configurable here) still applies and shows in p90/max and the burst.
    # the demo platform answers the ask endpoint (`/` is 200 for any name) and is the upstream, as for clicktls
    start_bg demo-platform python3 -c '
import http.server, sys
class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"GIF89a" if self.path.startswith("/wf/open") else b"ok"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Ok).serve_forever()' "$P_DEMO"
    wait_for "ask endpoint" 10 demo-platform curl -sf "http://127.0.0.1:$P_DEMO/?domain=probe.$DOMAIN"
    start_bg caddy env HOME="$WORK/caddy-home" XDG_DATA_HOME="$WORK/caddy-home" XDG_CONFIG_HOME="$WORK/caddy-home" \
        caddy run --config "$WORK/Caddyfile" --adapter caddyfile
    wait_for "caddy admin" 30 caddy curl -sf "http://127.0.0.1:$P_CADDY_ADMIN/config/"
    wait_for "caddy https" 30 caddy bash -c "exec 3<>/dev/tcp/127.0.0.1/$P_HTTPS"
}

# ---- measuring

# One never-seen name: TCP connect + full TLS handshake (issuance included) as curl sees it.
# Appends: name  time_appconnect_s  time_total_s  http_code  curl_exit  error  started_at  ended_at
# (the last two: epoch seconds just before curl is launched and just after it exited, to line it up with the logs;
# curl's own --trace-time is no use for that: it is only accurate to the second)
handshake() { # name file
    local name=$1 file=$2 line rc=0 err started ended
    started=$EPOCHREALTIME
    line=$(curl -sS -o /dev/null --max-time "$MAX_TIME" --resolve "$name:$P_HTTPS:127.0.0.1" --cacert "$PEBBLE_ROOT" \
        -w '%{time_appconnect}\t%{time_total}\t%{http_code}' "https://$name:$P_HTTPS/wf/open" \
        2>"$WORK/curl.$name.err") || rc=$?
    ended=$EPOCHREALTIME
    [ -n "$line" ] || line=$'0\t0\t000'
    err=$(tr '\n\t' '  ' <"$WORK/curl.$name.err" | cut -c1-200)
    rm -f "$WORK/curl.$name.err"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$line" "$rc" "$err" "$started" "$ended" >>"$file"
}

rand() { head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# n ok min median p90 max (seconds) over the successful rows of a result file
stats() {
    local total ok
    total=$(wc -l <"$1")
    awk -F'\t' '$5 == 0 && $4 == 200 { print $2 }' "$1" | sort -g | awk -v total="$total" '
        { t[NR] = $1 }
        END {
            if (NR == 0) { printf "%d 0 - - - -\n", total; exit }
            med = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
            p90 = t[int((9 * NR + 9) / 10)]
            printf "%d %d %.3f %.3f %.3f %.3f\n", total, NR, t[1], med, p90, t[NR]
        }'
}

describe_stats() { # label file
    local total ok min med p90 max
    read -r total ok min med p90 max < <(stats "$2")
    say "$(printf '  %-34s median %s s  (min %s  p90 %s  max %s)  ok %d/%d  failures %d' \
        "$1" "$med" "$min" "$p90" "$max" "$ok" "$total" $((total - ok)))"
    awk -F'\t' '$5 != 0 || $4 != 200 { printf "    FAILED %s: curl exit %s, http %s: %s\n", $1, $5, $4, $6 }' "$2" \
        | tee -a "$REPORT"
}

one_line() { # file name -> "0.123 s" or the failure
    awk -F'\t' -v n="$2" '$1 == n { if ($5 == 0 && $4 == 200) printf "%.3f s", $2;
        else printf "FAILED (curl exit %s, http %s: %s)", $5, $4, $6 }' "$1"
}

# the proxy's own view: "issued certificate for NAME from CA in N ms", and with --debug the phases of each order
proxy_side() { # log names-file
    local log=$1 names=$2
    [ -f "$log" ] || return 0
    awk -F'\t' 'NR == FNR { want[$1] = 1; next }
        { if (match($0, /issued certificate for [^ ]+ from [^ ]+ in [0-9]+ ms/)) {
              split(substr($0, RSTART, RLENGTH), w, " "); if (w[4] in want) print w[8] } }' \
        "$names" "$log" | sort -n | awk '{ t[NR] = $1 } END { if (NR) printf "  proxy-side issuance (its log)      median %d ms  (min %d  max %d)  over %d orders\n",
            (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2, t[1], t[NR], NR }' | tee -a "$REPORT"
    awk -F'\t' 'NR == FNR { want[$1] = 1; next }
        { if (match($0, /order for [^:]+: created [0-9]+ ms, validated [0-9]+ ms, signed [0-9]+ ms/)) {
              s = substr($0, RSTART, RLENGTH); gsub(/[:,]/, "", s); split(s, w, " ");
              if (w[3] in want) print w[5], w[8], w[11] } }' "$names" "$log" | awk '
        { c[NR] = $1; v[NR] = $2; s[NR] = $3 }
        function med(a, n,   i, j, x) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x }
            return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        END { if (NR) printf "  phases (median, debug log)         new order %d ms, validation %d ms, finalize+download %d ms\n",
            med(c, NR), med(v, NR), med(s, NR) }' | tee -a "$REPORT"
}

# One round against whatever listens on P_HTTPS: the very first handshake (which is also the warm-up), N names one
# at a time, then a parallel burst.
measure() { # label server-log
    local label=$1 log=$2 first seq par names i name pids=() orders_before
    first=$OUT/$label-first.tsv; seq=$OUT/$label-sequential.tsv; par=$OUT/$label-parallel.tsv
    : >"$first"; : >"$seq"; : >"$par"
    orders_before=$(orders)

    handshake "first-$(rand).$DOMAIN" "$first"
    for i in $(seq 2 "$WARMUP"); do handshake "w$i-$(rand).$DOMAIN" "$OUT/$label-warmup.tsv"; done

    for i in $(seq 1 "$N"); do
        if over_budget; then
            say "  time budget of $BUDGET s reached: $((N - i + 1)) of $N sequential names NOT run"; break
        fi
        handshake "c$i-$(rand).$DOMAIN" "$seq"
    done

    if [ "$PARALLEL" -gt 0 ] && ! over_budget; then
        for i in $(seq 1 "$PARALLEL"); do
            name=p$i-$(rand).$DOMAIN
            handshake "$name" "$WORK/par.$i.tsv" &
            pids+=($!)
        done
        wait "${pids[@]}" || true
        for i in $(seq 1 "$PARALLEL"); do cat "$WORK/par.$i.tsv" >>"$par"; rm -f "$WORK/par.$i.tsv"; done
    elif [ "$PARALLEL" -gt 0 ]; then
        say "  time budget of $BUDGET s reached: parallel burst NOT run"
    fi

    say "  first handshake after start       $(one_line "$first" "$(cut -f1 "$first")")  (process cold; the warm-up, not in the median)"
    if [ -s "$OUT/$label-warmup.tsv" ]; then
        say "  further warm-up handshakes        $(awk -F'\t' '{ printf "%s ", ($5 == 0 && $4 == 200) ? sprintf("%.3f", $2) : "FAILED" }' \
            "$OUT/$label-warmup.tsv")s"
    fi
    describe_stats "sequential, never-seen names" "$seq"
    if [ "$(wc -l <"$seq")" -ge 20 ]; then
        # the JIT keeps warming up over the first dozens of issuances: show the trend instead of hiding it
        head -10 "$seq" >"$WORK/early.tsv"; tail -10 "$seq" >"$WORK/late.tsv"
        say "    first 10 names median $(stats "$WORK/early.tsv" | cut -d' ' -f4) s, last 10 median $(stats "$WORK/late.tsv" | cut -d' ' -f4) s"
    fi
    if [ -s "$par" ]; then
        describe_stats "parallel burst of $PARALLEL" "$par"
        say "    per name: $(awk -F'\t' '{ printf "%s%s", sep, ($5 == 0 && $4 == 200) ? sprintf("%.3f", $2) : "FAILED"; sep = " " }' "$par") s"
    fi
    say "  Pebble orders during the round: $(( $(orders) - orders_before )) (names asked: $(cat "$first" "$seq" "$par" "$OUT/$label-warmup.tsv" 2>/dev/null | wc -l))"
    if [ -s "$seq" ]; then
        # the floor: a full handshake for a name whose certificate is already in memory
        for i in 1 2 3; do handshake "$(head -1 "$seq" | cut -f1)" "$OUT/$label-repeat.tsv"; done
        say "  repeat handshake, certificate held $(awk -F'\t' '$5 == 0 { printf "%.3f ", $2 } $5 != 0 { printf "FAILED " }' \
            "$OUT/$label-repeat.tsv")s (the floor: TCP + TLS without issuance)"
    fi
    if [ -n "$log" ]; then proxy_side "$log" "$seq"; fi
    if [ -n "$log" ] && [ "$TRACE" = 1 ]; then
        say "  where the time went, ms (bench/acme/trace-phases.py; trace logging itself slows the proxy):"
        python3 "$ROOT/bench/acme/trace-phases.py" "$seq" "$log" 2>&1 | tee -a "$REPORT"
    fi
}

# ---- run

say "clicktls cold first handshake against Pebble ($(date -u +%FT%TZ))"
say "  machine: $(nproc) cores; $(java -version 2>&1 | head -1); pebble $(dpkg-query -W -f '${Version}' pebble 2>/dev/null || echo '?')$( [ "$CADDY" = 1 ] && echo "; caddy $(caddy version | cut -d' ' -f1)")"
say "  load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores$(awk -v c="$(nproc)" '$1 > c { printf " -- BUSY MACHINE: numbers will be slower and noisier" }' /proc/loadavg)"
[ ${#JAVA_OPTS[@]} -gt 0 ] && say "  proxy JVM options: ${JAVA_OPTS[*]}"
say "  clicktls challenges: $CHALLENGES; names per round: $N sequential + $PARALLEL parallel; times are curl's time_appconnect"
say "  (TCP connect + full TLS handshake including issuance); medians exclude the first handshake after start, a"
say "  long-running proxy is past its JVM warm-up when a customer's first click arrives"
say ""

start_dns
start_pebble headline
say "[clicktls, Pebble PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0]  <- headline"
start_clicktls headline
measure clicktls-headline "$WORK/clicktls-headline.log"
stop_bg clicktls-headline
say ""

if [ "$CADDY" = 1 ]; then
    if over_budget; then
        say "[caddy] skipped: time budget of $BUDGET s reached"
    else
        say "[caddy $(caddy version | cut -d' ' -f1) on-demand TLS, same Pebble (NONCEREJECT=0 AUTHZREUSE=0)]"
        start_caddy
        measure caddy ""
        stop_bg caddy
        stop_bg demo-platform
    fi
    say ""
fi

if [ "$DEFAULTS" = 1 ]; then
    if over_budget; then
        say "[clicktls, Pebble defaults] skipped: time budget of $BUDGET s reached"
    else
        stop_pebble
        start_pebble defaults
        say "[clicktls, Pebble PEBBLE_VA_NOSLEEP=1 and its defaults: 5% nonces rejected, 50% authz reuse; fresh Pebble, fresh proxy]"
        start_clicktls defaults
        measure clicktls-defaults "$WORK/clicktls-defaults.log"
        stop_bg clicktls-defaults
    fi
    say ""
fi
stop_pebble

say "target (issue 3): median <= 0.300 s; Caddy 2.6 reference ~0.52 s. Total run time $(elapsed) s."
say "load average at end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
say "raw numbers and logs: ${OUT#"$ROOT"/}/"
