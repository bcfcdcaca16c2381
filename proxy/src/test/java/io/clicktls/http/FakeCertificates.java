package io.clicktls.http;

import io.clicktls.certificates.CertificateSource;
import io.clicktls.pki.CertifiedKey;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/** A certificate source for tests: names are in hand, issuable after a delay, or refused. */
final class FakeCertificates implements CertificateSource {

    private final ThrowawayCa pki;
    private final Map<String, CertifiedKey> inHand = new ConcurrentHashMap<>();
    private final Map<String, Duration> issuable = new ConcurrentHashMap<>();

    FakeCertificates(ThrowawayCa pki) {
        this.pki = pki;
    }

    void inHand(String name) {
        inHand.put(name, pki.issue(name));
    }

    /** {@link #certificate} issues after {@code delay} (and from then on the name is in hand). */
    void issuable(String name, Duration delay) {
        issuable.put(name, delay);
    }

    void reset() {
        inHand.clear();
        issuable.clear();
    }

    @Override
    public Optional<CertifiedKey> cached(String name) {
        return Optional.ofNullable(inHand.get(name));
    }

    @Override
    public CompletableFuture<CertifiedKey> certificate(String name) {
        CertifiedKey key = inHand.get(name);
        if (key != null) {
            return CompletableFuture.completedFuture(key);
        }
        Duration delay = issuable.get(name);
        if (delay == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("refused: " + name));
        }
        return CompletableFuture.supplyAsync(
                () -> {
                    CertifiedKey issued = pki.issue(name);
                    inHand.put(name, issued);
                    return issued;
                },
                CompletableFuture.delayedExecutor(delay.toMillis(), TimeUnit.MILLISECONDS));
    }
}
