package io.clicktls.acme;

import io.clicktls.config.HostNames;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.Storage;
import io.clicktls.storage.StorageKeys;
import io.clicktls.storage.StorageUnavailableException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The answers to ACME challenges in flight: http-01 key authorizations by token and tls-alpn-01 certificates by
 * host name. Kept in memory for the node that ordered, and written through {@link Storage}
 * ({@code challenges/http-01/<token>}, {@code challenges/tls-alpn-01/<name>}) so that another node of a cluster
 * can answer the CA too. Withdrawn once the CA has validated (or failed to).
 *
 * <p>The storage must not defer writes (no {@code RetryingStorage} in front of a database the nodes share): a challenge
 * kept in one node's memory while the CA validates through another fails the validation. A shared storage that has
 * no connection free now ({@link StorageUnavailableException#busy()}: a burst of new names) is tried again for a few seconds
 * before a publish fails (the order then fails before the CA is asked to validate) or a lookup answers "none".
 *
 * <p>Thread-safe. Blocking when the memory copy misses (storage I/O): call from the blocking executor, never from an
 * event loop.
 */
public final class ChallengeStore implements Challenges {

    private static final Logger log = LoggerFactory.getLogger(ChallengeStore.class);

    // Tokens and names come from the network (a request path, an SNI); they become storage keys, so only plain
    // base64url tokens and host names (HostNames) may pass, never "..", "/" or anything a file system would interpret.
    private static final Pattern TOKEN = Pattern.compile("[A-Za-z0-9_-]{1,256}");

    /** How long a publish keeps trying a storage that is unavailable now. */
    static final Duration PUBLISH_PATIENCE = Duration.ofSeconds(10);
    /** How long a lookup does: the CA waits for the answer (Pebble 15 s, and it tries three times at once). */
    static final Duration LOOKUP_PATIENCE = Duration.ofSeconds(4);

    private final Storage storage;
    private final TlsAlpnListener listener;
    private final Duration publishPatience;
    private final Duration lookupPatience;
    private final ConcurrentMap<String, String> keyAuthorizations = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, CertifiedKey> alpnCertificates = new ConcurrentHashMap<>();

    /**
     * Told when a tls-alpn-01 certificate is published and withdrawn, so that its TLS context can be built before the
     * CA's validation connections arrive and freed after. Called on the issuing thread (blocking is fine); must not
     * throw (what it throws is logged and ignored: the challenge is published either way).
     */
    public interface TlsAlpnListener {

        void published(CertifiedKey certificate);

        void withdrawn(CertifiedKey certificate);

        /** Tells nobody. */
        TlsAlpnListener NONE = of(certificate -> {}, certificate -> {});

        static TlsAlpnListener of(Consumer<CertifiedKey> published, Consumer<CertifiedKey> withdrawn) {
            return new TlsAlpnListener() {
                @Override
                public void published(CertifiedKey certificate) {
                    published.accept(certificate);
                }

                @Override
                public void withdrawn(CertifiedKey certificate) {
                    withdrawn.accept(certificate);
                }
            };
        }
    }

    public ChallengeStore(Storage storage) {
        this(storage, TlsAlpnListener.NONE);
    }

    public ChallengeStore(Storage storage, TlsAlpnListener listener) {
        this(storage, listener, PUBLISH_PATIENCE, LOOKUP_PATIENCE);
    }

    ChallengeStore(Storage storage, TlsAlpnListener listener, Duration publishPatience, Duration lookupPatience) {
        this.storage = storage;
        this.listener = listener;
        this.publishPatience = publishPatience;
        this.lookupPatience = lookupPatience;
    }

    /** Publishes an http-01 answer: in memory at once, then in storage. */
    public void publishHttp01(String token, String keyAuthorization) throws IOException {
        requireToken(token);
        keyAuthorizations.put(token, keyAuthorization);
        byte[] value = keyAuthorization.getBytes(StandardCharsets.US_ASCII);
        patiently(publishPatience, () -> {
            storage.store(StorageKeys.http01Challenge(token), value);
            return null;
        });
    }

    /**
     * Publishes a tls-alpn-01 certificate (RFC 8737) for {@code certificate.name()}, and has the listener prepare for
     * it, before returning: the caller triggers the challenge next, and the CA may connect at once.
     */
    public void publishTlsAlpn01(CertifiedKey certificate) throws IOException {
        String name = requireHostName(certificate.name());
        alpnCertificates.put(name, certificate);
        byte[] pem = PemCodec.encode(certificate.key(), certificate.chain());
        patiently(publishPatience, () -> {
            storage.store(StorageKeys.tlsAlpn01Challenge(name), pem);
            return null;
        });
        tell(listener::published, certificate);
    }

    /**
     * Runs the listener for a certificate that is never published (nothing is stored, no name answers with it): the
     * path a validation takes, loaded and compiled at startup rather than during a customer's first handshake.
     */
    public void rehearseTlsAlpn01(CertifiedKey certificate) {
        tell(listener::published, certificate);
        tell(listener::withdrawn, certificate);
    }

    /** Withdraws an http-01 answer. A storage failure is logged, not thrown: the validation is over either way. */
    public void withdrawHttp01(String token) {
        if (!TOKEN.matcher(token).matches()) {
            return;
        }
        keyAuthorizations.remove(token);
        deleteQuietly(StorageKeys.http01Challenge(token));
    }

    /** Withdraws a tls-alpn-01 certificate. A storage failure is logged, not thrown. */
    public void withdrawTlsAlpn01(String name) {
        String normal = HostNames.normalize(name);
        if (!HostNames.isValid(normal)) {
            return;
        }
        CertifiedKey withdrawn = alpnCertificates.remove(normal);
        deleteQuietly(StorageKeys.tlsAlpn01Challenge(normal));
        if (withdrawn != null) {
            tell(listener::withdrawn, withdrawn);
        }
    }

    @Override
    public Optional<String> httpKeyAuthorization(String token) {
        if (token == null || !TOKEN.matcher(token).matches()) {
            return Optional.empty();
        }
        String local = keyAuthorizations.get(token);
        if (local != null) {
            return Optional.of(local);
        }
        try {
            return patiently(lookupPatience, () -> storage.load(StorageKeys.http01Challenge(token)))
                    .map(bytes -> new String(bytes, StandardCharsets.US_ASCII));
        } catch (IOException e) {
            log.warn("cannot read http-01 challenge from storage: {}", e.toString());
            return Optional.empty();
        }
    }

    @Override
    public Optional<CertifiedKey> tlsAlpnCertificate(String name) {
        if (name == null) {
            return Optional.empty();
        }
        String normal = HostNames.normalize(name);
        if (!HostNames.isValid(normal)) {
            return Optional.empty();
        }
        CertifiedKey local = alpnCertificates.get(normal);
        if (local != null) {
            return Optional.of(local);
        }
        try {
            Optional<byte[]> stored =
                    patiently(lookupPatience, () -> storage.load(StorageKeys.tlsAlpn01Challenge(normal)));
            if (stored.isEmpty()) {
                return Optional.empty();
            }
            PemCodec.Contents pem = PemCodec.decode(stored.get());
            if (pem.key() == null || pem.certificates().isEmpty()) {
                log.warn("incomplete tls-alpn-01 challenge in storage for {}", normal);
                return Optional.empty();
            }
            return Optional.of(
                    new CertifiedKey(normal, pem.key(), pem.certificates(), AlpnChallengeCertificate.ISSUER_LABEL));
        } catch (IOException e) {
            log.warn("cannot read tls-alpn-01 challenge for {} from storage: {}", normal, e.toString());
            return Optional.empty();
        }
    }

    /** A storage call. */
    private interface StorageCall<T> {
        T run() throws IOException;
    }

    /**
     * {@code call}, tried again while the storage is busy, pausing from 50 ms doubling to 1 s, for at most
     * {@code patience}; then its last {@link StorageUnavailableException} is thrown. Blocks the calling thread (never
     * an event loop: see the class's threading).
     */
    private static <T> T patiently(Duration patience, StorageCall<T> call) throws IOException {
        long deadline = System.nanoTime() + patience.toNanos();
        long pause = 50;
        while (true) {
            try {
                return call.run();
            } catch (StorageUnavailableException e) {
                if (!e.busy() || System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(pause) - deadline > 0) {
                    throw e;
                }
                try {
                    Thread.sleep(pause); // a pool with no connection free: one is given back within milliseconds
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
                pause = Math.min(1_000, pause * 2);
            }
        }
    }

    private static void tell(Consumer<CertifiedKey> event, CertifiedKey certificate) {
        try {
            event.accept(certificate);
        } catch (RuntimeException e) {
            log.warn("tls-alpn-01 listener failed for {}: {}", certificate.name(), e.toString());
        }
    }

    private void deleteQuietly(String key) {
        try {
            storage.delete(key);
        } catch (IOException e) {
            log.warn("cannot withdraw challenge {} from storage: {}", key, e.toString());
        }
    }

    private static void requireToken(String token) {
        if (token == null || !TOKEN.matcher(token).matches()) {
            throw new IllegalArgumentException("token: " + token + " (expected: base64url, 1-256 characters)");
        }
    }

    private static String requireHostName(String name) {
        String normal = HostNames.normalize(name);
        if (!HostNames.isValid(normal)) {
            throw new IllegalArgumentException("name: " + name + " (expected: a DNS host name)");
        }
        return normal;
    }
}
