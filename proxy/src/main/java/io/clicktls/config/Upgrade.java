package io.clicktls.config;

/** How tracked links are upgraded from http to https. */
public record Upgrade(HttpMode http, boolean location, boolean html) {

    public static final Upgrade DEFAULTS = new Upgrade(HttpMode.REDIRECT, true, true);

    public enum HttpMode {
        /** A plain-http request for a tracked domain whose certificate is in hand gets a 308 to https. */
        REDIRECT,
        /** Plain-http requests are proxied as they are. */
        PROXY
    }
}
