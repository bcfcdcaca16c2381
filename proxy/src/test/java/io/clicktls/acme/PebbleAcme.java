package io.clicktls.acme;

import io.clicktls.config.Acme;
import io.clicktls.config.Acme.ChallengeType;
import io.clicktls.config.Certificates;
import io.clicktls.testing.InMemoryStorage;
import io.clicktls.testing.Pebble;
import java.io.IOException;
import java.time.Clock;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.UnaryOperator;

/**
 * One Pebble CA whose http-01 and tls-alpn-01 validations reach local {@link ChallengeResponders}, and the
 * {@link AcmeIssuer}s a test class makes against it. Start one per test class ({@code @BeforeAll}), call
 * {@link #closeIssuers()} after each test and {@link #close()} after all.
 */
final class PebbleAcme implements AutoCloseable {

    final ChallengeResponders responders;
    final Pebble pebble;

    private final List<AcmeIssuer> issuers = new CopyOnWriteArrayList<>();

    private PebbleAcme(ChallengeResponders responders, Pebble pebble) {
        this.responders = responders;
        this.pebble = pebble;
    }

    /** Starts the responders, then a Pebble validating against them, with {@code options} applied to its builder. */
    static PebbleAcme start(UnaryOperator<Pebble.Builder> options) throws Exception {
        var responders = new ChallengeResponders();
        try {
            Pebble pebble = options.apply(
                            Pebble.builder().httpPort(responders.httpPort()).tlsPort(responders.tlsPort()))
                    .start();
            return new PebbleAcme(responders, pebble);
        } catch (Exception | Error e) {
            responders.close();
            throw e;
        }
    }

    static PebbleAcme start() throws Exception {
        return start(UnaryOperator.identity());
    }

    /**
     * An EC P-256 issuer on {@code storage}, with contact {@code ops@example.com}, whose challenges the responders
     * answer from now on.
     */
    AcmeIssuer issuer(InMemoryStorage storage, List<ChallengeType> challenges, Acme.ExternalAccountBinding eab)
            throws IOException {
        var challengeStore = new ChallengeStore(storage);
        responders.current = challengeStore;
        var settings = new Acme(pebble.directoryUrl(), "ops@example.com", pebble.trustedCaFile(), challenges, eab);
        return issuer(settings, Certificates.KeyType.EC256, storage, challengeStore);
    }

    /** An issuer made from exactly these parts; closed by {@link #closeIssuers()}. */
    AcmeIssuer issuer(
            Acme settings, Certificates.KeyType keyType, InMemoryStorage storage, ChallengeStore challengeStore)
            throws IOException {
        var issuer = new AcmeIssuer(settings, keyType, storage, challengeStore, Clock.systemUTC());
        issuers.add(issuer);
        return issuer;
    }

    /** A name no other test (nor an earlier run against the same Pebble) has ordered. */
    static String uniqueName(String label) {
        return label + "-" + UUID.randomUUID().toString().substring(0, 8) + ".clicktls.test";
    }

    void closeIssuers() {
        issuers.forEach(AcmeIssuer::close);
        issuers.clear();
    }

    @Override
    public void close() {
        closeIssuers();
        try {
            pebble.close();
        } finally {
            responders.close();
        }
    }
}
