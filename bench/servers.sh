# The servers the scripts here measure, with the same certificate and settings everywhere: one ECDSA P-256
# certificate for $NAME, HAProxy, Caddy, clicktls and the two floor servers of the stack (tls/FloorServer.java,
# tls/H2FloorServer.java), each in front of lib.sh's nginx where it has an upstream. Sourced after lib.sh by
# compare.sh, warm-up.sh and idle-connections.sh; they set NAME, WORK, RESULTS, JAR, REPO, BENCH_DIR, JVM_FLAGS and
# (for an upstream) NGINX_PORT. Each start_* function starts a server and sets PROXY_PID, PROXY_PORT and
# PROXY_VERSION; HAPROXY_MAXCONN and HAPROXY_CLIENT_TIMEOUT change HAProxy's limits (default 8000 and 30s), HAPROXY_GLOBAL_EXTRA adds a
# line to its global section, CLICKTLS_EXTRA_CONFIG lines at the end of clicktls's YAML.

# --- certificate, configs ---------------------------------------------------------------------------------
make_certificate() {
    local dir=$WORK/pki
    mkdir -p "$dir"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key" 2>/dev/null
    openssl req -x509 -new -key "$dir/ca.key" -subj "/CN=clicktls bench CA" -days 90 -sha256 \
        -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign \
        -out "$dir/ca.pem" 2>/dev/null
    # genpkey writes PKCS#8 PEM ("BEGIN PRIVATE KEY"), the format clicktls stores
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/leaf.key" 2>/dev/null
    openssl req -new -key "$dir/leaf.key" -subj "/CN=$NAME" -out "$dir/leaf.csr" 2>/dev/null
    printf 'subjectAltName=DNS:%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' \
        "$NAME" > "$dir/leaf.ext"
    openssl x509 -req -in "$dir/leaf.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 60 \
        -sha256 -extfile "$dir/leaf.ext" -out "$dir/leaf.pem" 2>/dev/null
    # every proxy serves leaf + CA, as a public CA's leaf + intermediate would be served
    cat "$dir/leaf.pem" "$dir/ca.pem" > "$dir/chain.pem"
    cat "$dir/chain.pem" "$dir/leaf.key" > "$dir/haproxy.pem"
    chmod 600 "$dir"/*.key "$dir/haproxy.pem"
    LEAF_FINGERPRINT=$(openssl x509 -in "$dir/leaf.pem" -noout -fingerprint -sha256 | cut -d= -f2)
}

start_haproxy() {
    local dir=$WORK/haproxy port
    mkdir -p "$dir"
    free_port port
    cat > "$dir/haproxy.cfg" <<EOF
global
    nbthread 2
    maxconn ${HAPROXY_MAXCONN:-8000}
${HAPROXY_GLOBAL_EXTRA:+    $HAPROXY_GLOBAL_EXTRA
}    stats socket $dir/stats.sock mode 600 level admin
defaults
    mode http
    timeout connect 5s
    timeout client ${HAPROXY_CLIENT_TIMEOUT:-30s}
    timeout server 30s
    option http-keep-alive
    http-reuse always
frontend https
    bind 127.0.0.1:$port ssl crt $WORK/pki/haproxy.pem alpn h2,http/1.1
    default_backend nginx
backend nginx
    server nginx 127.0.0.1:$NGINX_PORT
EOF
    cp "$dir/haproxy.cfg" "$RESULTS/haproxy.cfg"
    start_server "$RESULTS/haproxy.log" haproxy -f "$dir/haproxy.cfg" -db
    PROXY_PID=$STARTED_PID
    PROXY_PORT=$port
    PROXY_VERSION="HAProxy $(haproxy -v | awk 'NR==1{print $3}') ($(haproxy -vv | awk -F': ' '/Running on OpenSSL/{print $2; exit}')), nbthread 2"
}

start_caddy() {
    local dir=$WORK/caddy port
    mkdir -p "$dir/home"
    free_port port
    cat > "$dir/Caddyfile" <<EOF
{
    admin off
    auto_https off
    storage file_system $dir/data
    servers {
        protocols h1 h2
    }
    log {
        output discard
    }
}
https://$NAME:$port {
    bind 127.0.0.1
    tls $WORK/pki/chain.pem $WORK/pki/leaf.key
    reverse_proxy 127.0.0.1:$NGINX_PORT
}
EOF
    cp "$dir/Caddyfile" "$RESULTS/Caddyfile"
    start_server "$RESULTS/caddy.log" env HOME="$dir/home" XDG_DATA_HOME="$dir/home" XDG_CONFIG_HOME="$dir/home" \
        caddy run --config "$dir/Caddyfile" --adapter caddyfile
    PROXY_PID=$STARTED_PID
    PROXY_PORT=$port
    PROXY_VERSION="Caddy $(caddy version | awk '{print $1}') (Go crypto/tls)"
}

start_clicktls() {
    local dir=$WORK/clicktls entry not_after
    [ -f "$JAR" ] || die "no clicktls jar at $JAR (build it, or pass --jar / --repo)"
    entry=$dir/storage/certificates/$NAME
    mkdir -p "$entry"
    chmod 700 "$dir/storage" "$dir/storage/certificates" "$entry"
    # the storage layout of io.clicktls.storage.CertificateStore: chain.pem (leaf first), key.pem (PKCS#8 PEM),
    # then meta.json holding the SHA-256 of the other two files' bytes
    cp "$WORK/pki/chain.pem" "$entry/chain.pem"
    cp "$WORK/pki/leaf.key" "$entry/key.pem"
    not_after=$(date -u -d "$(openssl x509 -in "$WORK/pki/leaf.pem" -noout -enddate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)
    cat > "$entry/meta.json" <<EOF
{
  "name" : "$NAME",
  "issuer" : "bench",
  "issued_at" : "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "not_after" : "$not_after",
  "chain_sha256" : "$(sha256_hex "$entry/chain.pem")",
  "key_sha256" : "$(sha256_hex "$entry/key.pem")"
}
EOF
    chmod 600 "$entry"/*
    local https http admin
    free_port https; free_port http; free_port admin
    cat > "$dir/clicktls.yml" <<EOF
listen:
  https: 127.0.0.1:$https
  http: 127.0.0.1:$http
  admin: 127.0.0.1:$admin
storage:
  directory: storage
certificates:
  issuer: internal
  key_type: ec256
platforms:
  bench:
    upstream: http://127.0.0.1:$NGINX_PORT
domains:
  - name: $NAME
    platform: bench
${CLICKTLS_EXTRA_CONFIG:-}
EOF
    cp "$dir/clicktls.yml" "$RESULTS/clicktls.yml"
    # word splitting of JVM_FLAGS is intended
    # shellcheck disable=SC2086
    start_server "$RESULTS/clicktls.log" java $JVM_FLAGS -jar "$JAR" run --config "$dir/clicktls.yml"
    PROXY_PID=$STARTED_PID
    PROXY_PORT=$https
    # the commit of the tree the jar was built from, or the jar's path when it came from elsewhere (--jar)
    local build
    build=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')
    [ "$JAR" -ef "$REPO/proxy/target/clicktls.jar" ] || build=$JAR
    PROXY_VERSION="clicktls $build (Java $(java -version 2>&1 | awk -F'"' 'NR==1{print $2}'); ${JVM_FLAGS:-no JVM flags})"
}

# The floors of the stack (bench/tls/README.md): Netty + netty-tcnative BoringSSL answering a fixed 302 with no
# upstream, with clicktls's jar (for Netty) and JVM flags. floor-h1 speaks HTTP/1.1 (no ALPN), floor-h2 only h2.
start_floor() {
    local name=$1 source=$2 port
    [ -f "$JAR" ] || die "no clicktls jar at $JAR (the floor servers run on its Netty; build it, or pass --jar / --repo)"
    free_port port
    # clicktls's flags without its class-data archive, which holds clicktls's classes, not the floor's (the JVM would
    # refuse it with a warning for the other class path); the floors are measured warm, where it makes no difference
    local flags=() flag
    # word splitting of JVM_FLAGS is intended
    # shellcheck disable=SC2086
    for flag in $JVM_FLAGS; do [[ $flag == -XX:SharedArchiveFile=* ]] || flags+=("$flag"); done
    start_server "$RESULTS/$name.log" java "${flags[@]}" -cp "$JAR" "$BENCH_DIR/tls/$source" "$port" \
        "$WORK/pki/chain.pem" "$WORK/pki/leaf.key"
    PROXY_PID=$STARTED_PID
    PROXY_PORT=$port
    PROXY_VERSION="$name: ${source%.java} (Netty + BoringSSL, fixed 302; ${flags[*]:-no JVM flags})"
}
start_floor-h1() { start_floor floor-h1 FloorServer.java; }
start_floor-h2() { start_floor floor-h2 H2FloorServer.java; }

# --- checks -----------------------------------------------------------------------------------------------
url() { echo "https://$NAME:$PROXY_PORT/"; }

wait_ready() {
    local name=$1 i code
    for i in $(seq 1 300); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --resolve "$NAME:$PROXY_PORT:127.0.0.1" \
            --cacert "$WORK/pki/ca.pem" "$(url)" 2>/dev/null || true)
        if [ "$code" = 302 ]; then
            log "$name ready after $((i / 5)).$((i % 5 * 2))s"
            return 0
        fi
        kill -0 "$PROXY_PID" 2>/dev/null || break
        sleep 0.2
    done
    tail -n 40 "$RESULTS/$name.log" >&2 || true
    die "$name did not answer 302 on $(url)"
}

