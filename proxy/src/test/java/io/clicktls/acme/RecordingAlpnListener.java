package io.clicktls.acme;

import java.util.List;

/** A TLS-ALPN listener for tests that adds {@code "published NAME"} and {@code "withdrawn NAME"} to a list, in order. */
final class RecordingAlpnListener {

    private RecordingAlpnListener() {}

    /** A listener adding to {@code events}, which must be safe for the threads the challenge store calls it on. */
    static ChallengeStore.TlsAlpnListener into(List<String> events) {
        return ChallengeStore.TlsAlpnListener.of(
                certificate -> events.add("published " + certificate.name()),
                certificate -> events.add("withdrawn " + certificate.name()));
    }
}
