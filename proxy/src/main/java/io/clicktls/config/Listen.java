package io.clicktls.config;

/**
 * The three listeners, and which load balancers in front of the https and http ones send PROXY protocol headers.
 * Changing an address needs a restart (a reload that changes one logs so); {@code proxy_protocol} follows a reload
 * for the next connection.
 */
public record Listen(Endpoint https, Endpoint http, Endpoint admin, ProxyProtocol proxyProtocol) {

    /** What a file without {@code listen:} (or without one of its keys) listens on. */
    public static final Listen DEFAULTS =
            new Listen(new Endpoint("0.0.0.0", 8443), new Endpoint("0.0.0.0", 8080), new Endpoint("127.0.0.1", 9090));

    /** Listeners without PROXY protocol. */
    public Listen(Endpoint https, Endpoint http, Endpoint admin) {
        this(https, http, admin, ProxyProtocol.OFF);
    }
}
