package io.clicktls.tls;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;

/** Lets tests outside this package run {@link TlsContexts}'s in-memory handshake between two engines. */
public final class InMemoryHandshake {

    private InMemoryHandshake() {}

    public static void run(SSLEngine client, SSLEngine server) throws SSLException {
        TlsContexts.handshakeInMemory(client, server);
    }
}
