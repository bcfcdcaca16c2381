package io.clicktls.acme;

import io.clicktls.config.Acme;
import io.clicktls.config.Acme.ChallengeType;
import io.clicktls.config.Certificates;
import io.clicktls.storage.Storage;
import io.clicktls.testing.Pebble;
import java.io.IOException;
import java.time.Clock;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One Pebble CA whose http-01 and tls-alpn-01 validations reach local {@link ChallengeResponders}, and the
 * {@link AcmeIssuer}s a test class makes against it. A test class usually gets one through {@link #perClass}; one
 * started by {@link #start} is the test's to close.
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
     * A CA for a whole test class, registered as {@code @RegisterExtension static final PebbleAcme.PerClass ca =
     * PebbleAcme.perClass();}: started before the class's {@code @BeforeAll} methods and stopped after its last test;
     * the issuers a test made are closed after it.
     */
    static PerClass perClass(UnaryOperator<Pebble.Builder> options) {
        return new PerClass(options);
    }

    static PerClass perClass() {
        return perClass(UnaryOperator.identity());
    }

    /** The CA of {@link #perClass}: a {@link PebbleAcme} that JUnit starts and stops around a test class. */
    static final class PerClass implements BeforeAllCallback, AfterAllCallback, AfterEachCallback {

        private final UnaryOperator<Pebble.Builder> options;
        private PebbleAcme ca;

        private PerClass(UnaryOperator<Pebble.Builder> options) {
            this.options = options;
        }

        @Override
        public void beforeAll(ExtensionContext context) throws Exception {
            ca = start(options);
        }

        @Override
        public void afterEach(ExtensionContext context) {
            if (ca != null) {
                ca.closeIssuers();
            }
        }

        @Override
        public void afterAll(ExtensionContext context) {
            if (ca != null) {
                ca.close();
                ca = null;
            }
        }

        /** The running CA; fails outside the class's tests. */
        PebbleAcme get() {
            if (ca == null) {
                throw new IllegalStateException("Pebble runs only while the test class runs");
            }
            return ca;
        }
    }

    /**
     * An EC P-256 issuer on {@code storage}, with contact {@code ops@example.com}, whose challenges the responders
     * answer from now on.
     */
    AcmeIssuer issuer(Storage storage, List<ChallengeType> challenges, Acme.ExternalAccountBinding eab)
            throws IOException {
        var challengeStore = new ChallengeStore(storage);
        responders.current = challengeStore;
        var settings = new Acme(pebble.directoryUrl(), "ops@example.com", pebble.trustedCaFile(), challenges, eab);
        return issuer(settings, Certificates.KeyType.EC256, storage, challengeStore);
    }

    /** An issuer made from exactly these parts; closed by {@link #closeIssuers()}. */
    AcmeIssuer issuer(Acme settings, Certificates.KeyType keyType, Storage storage, ChallengeStore challengeStore)
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
