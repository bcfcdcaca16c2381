package io.clicktls.acme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.acme.ChallengeStore.TlsAlpnListener;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.Storage;
import io.clicktls.storage.StorageUnavailableException;
import io.clicktls.testing.ForwardingStorage;
import io.clicktls.testing.InMemoryStorage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.interfaces.ECPrivateKey;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ChallengeStoreTest {

    private static final String TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";

    private final InMemoryStorage storage = new InMemoryStorage();
    private final ChallengeStore store = new ChallengeStore(storage);

    @Test
    void publishedHttp01AnswerIsServedAndWrittenThroughToStorage() throws Exception {
        store.publishHttp01(TOKEN, TOKEN + ".thumbprint");

        assertThat(store.httpKeyAuthorization(TOKEN)).contains(TOKEN + ".thumbprint");
        assertThat(storage.load("challenges/http-01/" + TOKEN))
                .get()
                .extracting(bytes -> new String(bytes, StandardCharsets.US_ASCII))
                .isEqualTo(TOKEN + ".thumbprint");
    }

    @Test
    void anotherNodeOnTheSameStorageAnswersBothChallengeTypes() throws Exception {
        CertifiedKey alpn = AlpnChallengeCertificate.create("links.shop.test", new byte[32], Clock.systemUTC());
        store.publishHttp01(TOKEN, "key-authorization");
        store.publishTlsAlpn01(alpn);

        var otherNode = new ChallengeStore(storage);

        assertThat(otherNode.httpKeyAuthorization(TOKEN)).contains("key-authorization");
        CertifiedKey loaded = otherNode.tlsAlpnCertificate("LINKS.shop.test.").orElseThrow();
        assertThat(loaded.leaf()).isEqualTo(alpn.leaf());
        // compare the secret itself: the encoding differs by JCA provider
        assertThat(((ECPrivateKey) loaded.key()).getS()).isEqualTo(((ECPrivateKey) alpn.key()).getS());
        assertThat(loaded.name()).isEqualTo("links.shop.test");
    }

    @Test
    void withdrawnChallengesAreGoneFromMemoryAndStorage() throws Exception {
        store.publishHttp01(TOKEN, "key-authorization");
        store.publishTlsAlpn01(AlpnChallengeCertificate.create("links.shop.test", new byte[32], Clock.systemUTC()));

        store.withdrawHttp01(TOKEN);
        store.withdrawTlsAlpn01("links.shop.test");

        assertThat(store.httpKeyAuthorization(TOKEN)).isEmpty();
        assertThat(store.tlsAlpnCertificate("links.shop.test")).isEmpty();
        assertThat(storage.list("challenges/")).isEmpty();
    }

    @Test
    void tokensAndNamesThatCouldEscapeTheChallengeFolderNeverReachStorage() throws Exception {
        storage.store("acme/account-key.pem", "secret".getBytes(StandardCharsets.US_ASCII));

        assertThat(store.httpKeyAuthorization("../../acme/account-key.pem")).isEmpty();
        assertThat(store.httpKeyAuthorization("..")).isEmpty();
        assertThat(store.httpKeyAuthorization("")).isEmpty();
        assertThat(store.tlsAlpnCertificate("../../acme/account-key.pem")).isEmpty();
        assertThat(store.tlsAlpnCertificate("a..b")).isEmpty();
        assertThatThrownBy(() -> store.publishHttp01("a/b", "x")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void unknownChallengesAreEmpty() {
        assertThat(store.httpKeyAuthorization(TOKEN)).isEmpty();
        assertThat(store.tlsAlpnCertificate("links.shop.test")).isEmpty();
    }

    @Test
    void theListenerHearsOfATlsAlpnCertificateBeforePublishReturnsAndWhenItIsWithdrawn() throws Exception {
        var events = new ArrayList<String>();
        var listened = new ChallengeStore(
                storage,
                ChallengeStore.TlsAlpnListener.of(
                        certificate -> events.add("published " + certificate.name()
                                + (storage.load("challenges/tls-alpn-01/" + certificate.name())
                                                .isPresent()
                                        ? " stored"
                                        : "")),
                        certificate -> events.add("withdrawn " + certificate.name())));
        CertifiedKey alpn = AlpnChallengeCertificate.create("links.shop.test", new byte[32], Clock.systemUTC());

        listened.publishTlsAlpn01(alpn);
        assertThat(events).containsExactly("published links.shop.test stored");
        listened.withdrawTlsAlpn01("links.shop.test");
        listened.withdrawTlsAlpn01("links.shop.test");

        assertThat(events).containsExactly("published links.shop.test stored", "withdrawn links.shop.test");
    }

    @Test
    void aFailingListenerDoesNotStopThePublication() throws Exception {
        var failing = new ChallengeStore(
                storage,
                ChallengeStore.TlsAlpnListener.of(
                        certificate -> {
                            throw new IllegalStateException("no context for you");
                        },
                        certificate -> {
                            throw new IllegalStateException("nor here");
                        }));
        CertifiedKey alpn = AlpnChallengeCertificate.create("links.shop.test", new byte[32], Clock.systemUTC());

        failing.publishTlsAlpn01(alpn);
        assertThat(failing.tlsAlpnCertificate("links.shop.test")).contains(alpn);
        failing.withdrawTlsAlpn01("links.shop.test");
        assertThat(failing.tlsAlpnCertificate("links.shop.test")).isEmpty();
    }

    @Test
    void aRehearsalTellsTheListenerButPublishesNothing() throws Exception {
        var events = new ArrayList<String>();
        var listened = new ChallengeStore(storage, RecordingAlpnListener.into(events));

        listened.rehearseTlsAlpn01(AlpnChallengeCertificate.create("warm-up.invalid", new byte[32], Clock.systemUTC()));

        assertThat(events).containsExactly("published warm-up.invalid", "withdrawn warm-up.invalid");
        assertThat(listened.tlsAlpnCertificate("warm-up.invalid")).isEmpty();
        assertThat(storage.list("challenges/")).isEmpty();
    }

    /** Storage whose next {@code refusals} calls fail as a database pool with no connection free does. */
    private static final class BusyStorage extends ForwardingStorage {
        final AtomicInteger refusals;

        BusyStorage(Storage delegate, int refusals) {
            super(delegate);
            this.refusals = new AtomicInteger(refusals);
        }

        private void busy() throws StorageUnavailableException {
            if (refusals.getAndDecrement() > 0) {
                throw new StorageUnavailableException("database busy: every pooled connection in use", null, true);
            }
        }

        @Override
        public void store(String key, byte[] value) throws IOException {
            busy();
            super.store(key, value);
        }

        @Override
        public Optional<byte[]> load(String key) throws IOException {
            busy();
            return super.load(key);
        }
    }

    @Test
    void aStorageBusyForAMomentStillGetsTheChallengeBeforePublishReturnsAndAnotherNodeStillFindsIt() throws Exception {
        CertifiedKey alpn = AlpnChallengeCertificate.create("links.shop.test", new byte[32], Clock.systemUTC());
        var publishing = new ChallengeStore(
                new BusyStorage(storage, 3), TlsAlpnListener.NONE, Duration.ofSeconds(10), Duration.ofSeconds(10));

        publishing.publishTlsAlpn01(alpn);
        publishing.publishHttp01(TOKEN, "key-authorization");

        // in the shared storage when publish returns: the CA may now validate through any node
        assertThat(storage.load("challenges/tls-alpn-01/links.shop.test")).isPresent();
        assertThat(storage.load("challenges/http-01/" + TOKEN)).isPresent();
        var otherNode = new ChallengeStore(
                new BusyStorage(storage, 2), TlsAlpnListener.NONE, Duration.ofSeconds(10), Duration.ofSeconds(10));
        assertThat(otherNode.tlsAlpnCertificate("links.shop.test").orElseThrow().leaf())
                .isEqualTo(alpn.leaf());
    }

    @Test
    void aStorageThatStaysBusyFailsThePublishSoThatTheCaIsNeverAskedToValidate() {
        var publishing = new ChallengeStore(
                new BusyStorage(storage, Integer.MAX_VALUE),
                TlsAlpnListener.NONE,
                Duration.ofMillis(300),
                Duration.ofMillis(300));

        assertThatThrownBy(() -> publishing.publishHttp01(TOKEN, "key-authorization"))
                .isInstanceOf(StorageUnavailableException.class);
        assertThat(publishing.tlsAlpnCertificate("other.shop.test")).isEmpty();
    }
}
