package io.clicktls.config;

import java.net.URI;

/**
 * An email platform that tracked domains forward to, presets already resolved.
 *
 * @param name the key under {@code platforms:}
 * @param upstream scheme, host and optional port, e.g. {@code https://sendgrid.net}; no path
 * @param hostHeader what Host the upstream is sent
 * @param options the defaults for its domains ({@code upgrade}, {@code well_known})
 */
public record Platform(String name, URI upstream, HostHeader hostHeader, DomainOptions options) {

    public Platform {
        options = options == null ? DomainOptions.NONE : options;
    }

    /** A platform that sets no options for its domains. */
    public Platform(String name, URI upstream, HostHeader hostHeader) {
        this(name, upstream, hostHeader, DomainOptions.NONE);
    }

    public enum HostHeader {
        /** The tracked domain, as the client sent it (what every platform expects). */
        PRESERVE,
        /** The upstream's own host name. */
        UPSTREAM
    }

    public boolean tls() {
        return "https".equalsIgnoreCase(upstream.getScheme());
    }

    public String upstreamHost() {
        return upstream.getHost();
    }

    public int upstreamPort() {
        return upstream.getPort() >= 0 ? upstream.getPort() : tls() ? 443 : 80;
    }
}
