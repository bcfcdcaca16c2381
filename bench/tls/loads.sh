# compare.sh's three loads, and reading a port from a kept config, for the scripts in bench/tls. Sourced; they set
# DIR (a `bench/compare.sh --keep` directory, for sni.lua), NAME (the TLS name) and PORT (the server's port on
# 127.0.0.1).
#
# port_of KEY FILE: the port of the first line whose first word is KEY, its second word being HOST:PORT
#   (`https: 127.0.0.1:18001` in clicktls.yml, `bind 127.0.0.1:18004 ssl …` in haproxy.cfg).
port_of() { awk -v key="$1" '$1 == key { n = split($2, a, ":"); print a[n]; exit }' "$2"; }
#
# load KIND SECONDS: runs one load and prints the number of requests completed.
#   keepalive  wrk -t1 -c50, keep-alive
#   resumed    the same with `Connection: close`: a new connection per request, TLS 1.3 sessions resumed
#   full       h2load --h1, 300 new connections/s, one request each, no resumption
load() {
    case $1 in
        keepalive|resumed)
            local extra=(); [ "$1" = resumed ] && extra=(-H 'Connection: close')
            wrk -t1 -c50 -d"$2s" -s "$DIR/sni.lua" -H "Host: $NAME" "${extra[@]}" "https://$NAME:$PORT/" \
                | awk '/requests in/ {print $1}' ;;
        full)
            local n=$((6 * 50 * $2))
            h2load --h1 -m 1 -c "$n" -n "$n" -r 6 --rate-period 20ms -N 10s --connect-to "127.0.0.1:$PORT" \
                "https://$NAME/" | awk '/^requests:/ {print $8}' ;;
    esac
}
