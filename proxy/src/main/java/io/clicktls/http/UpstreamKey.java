package io.clicktls.http;

import io.clicktls.config.Platform;
import java.util.Locale;

/** Which upstream connections are interchangeable: same scheme, host, port and TLS. */
record UpstreamKey(String scheme, String host, int port, boolean tls) {

    static UpstreamKey of(Platform platform) {
        return new UpstreamKey(
                platform.upstream().getScheme().toLowerCase(Locale.ROOT),
                platform.upstreamHost(),
                platform.upstreamPort(),
                platform.tls());
    }

    @Override
    public String toString() {
        return scheme + "://" + host + ":" + port;
    }
}
