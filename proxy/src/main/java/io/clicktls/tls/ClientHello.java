package io.clicktls.tls;

import java.util.List;

/**
 * What a TLS ClientHello asks for, as far as certificate selection cares.
 *
 * @param serverName the SNI host name as sent (printable ASCII, at most 255 characters), or {@code null} if none
 * @param alpnProtocols the ALPN protocols offered, in the client's order; empty if none
 */
public record ClientHello(String serverName, List<String> alpnProtocols) {

    public ClientHello {
        alpnProtocols = List.copyOf(alpnProtocols);
    }

    /** Whether the client offers exactly one ALPN protocol, {@code protocol}. */
    public boolean offersOnly(String protocol) {
        return alpnProtocols.size() == 1 && alpnProtocols.get(0).equals(protocol);
    }
}
