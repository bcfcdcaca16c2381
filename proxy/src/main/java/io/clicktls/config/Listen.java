package io.clicktls.config;

/** The three listeners. Changing them needs a restart; a reload that changes them logs so. */
public record Listen(Endpoint https, Endpoint http, Endpoint admin) {

    /** What a file without {@code listen:} (or without one of its keys) listens on. */
    public static final Listen DEFAULTS =
            new Listen(new Endpoint("0.0.0.0", 8443), new Endpoint("0.0.0.0", 8080), new Endpoint("127.0.0.1", 9090));
}
