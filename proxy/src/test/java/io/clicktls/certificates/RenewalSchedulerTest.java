package io.clicktls.certificates;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.certificates.RenewalScheduler.Window;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.CertificateStore;
import io.clicktls.storage.Storage;
import io.clicktls.testing.ForwardingStorage;
import io.clicktls.testing.InMemoryStorage;
import io.clicktls.testing.ManualScheduledExecutor;
import io.clicktls.testing.SelfSigned;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

class RenewalSchedulerTest {

    private static final Instant T0 = Instant.parse("2026-11-01T00:00:00Z");
    private static final Duration LIFETIME = Duration.ofDays(90);
    private static final KeyPair KEY = SelfSigned.ecKey();
    private static final AtomicLong SERIALS = new AtomicLong(1);

    private final ManualScheduledExecutor executor = new ManualScheduledExecutor(T0.plus(Duration.ofDays(1)));
    private final CountingStorage storage = new CountingStorage(new InMemoryStorage());
    private CertificateStore store = new CertificateStore(storage);
    private final List<Attempt> attempts = new ArrayList<>();
    private Predicate<String> configured = name -> true;
    private IssuanceFailures failures;

    private record Attempt(String name, Instant at) {}

    @Test
    void renewsOnceWhenAThirdOfTheLifetimeIsLeft() {
        hold(certificate("links.shop.test", T0));
        var scheduler = scheduler(this::renewAndHold, RenewalScheduler.RenewalWindows.NONE);
        scheduler.start();

        executor.advance(
                Duration.between(executor.now(), T0.plus(Duration.ofDays(60))).minusMinutes(1));
        assertThat(attempts).isEmpty();
        executor.advance(Duration.ofDays(3).plusHours(1));

        assertThat(attempts).hasSize(1);
        assertThat(attempts.get(0).at())
                .isBetween(
                        T0.plus(Duration.ofDays(60)),
                        T0.plus(Duration.ofDays(60)).plus(Duration.ofDays(3)));
    }

    @Test
    void sixDayCertificatesRenewAboutTwoDaysAhead() {
        Duration sixDays = Duration.ofDays(6);
        hold(certificate("links.shop.test", T0.plus(Duration.ofDays(1)), sixDays));
        var scheduler = scheduler(RenewalSchedulerTest::succeed, RenewalScheduler.RenewalWindows.NONE);
        scheduler.start();

        executor.advance(Duration.ofDays(4).plusHours(12));

        assertThat(attempts).hasSize(1);
        Instant notAfter = T0.plus(Duration.ofDays(7));
        Duration ahead = Duration.between(attempts.get(0).at(), notAfter);
        // a third of the lifetime left, delayed by at most a 30th of it (4.8 hours)
        assertThat(ahead).isBetween(Duration.ofDays(2).minusHours(5), Duration.ofDays(2));
    }

    @Test
    void aFleetOfSixDayCertificatesIssuedTogetherRenewsSpreadOverHoursNotWithinOne() {
        Duration sixDays = Duration.ofDays(6);
        for (int i = 0; i < 300; i++) {
            hold(certificate("n" + i + ".shop.test", T0.plus(Duration.ofDays(1)), sixDays));
        }
        var scheduler = scheduler(RenewalSchedulerTest::succeed, RenewalScheduler.RenewalWindows.NONE);
        scheduler.start();

        executor.advance(Duration.ofDays(4).plusHours(12));

        assertThat(attempts).hasSize(300);
        Instant due = T0.plus(Duration.ofDays(5));
        var perHour = new int[5];
        for (Attempt attempt : attempts) {
            long hour = Duration.between(due, attempt.at()).toHours();
            assertThat(hour).as("hours after the due time").isBetween(0L, 4L);
            perHour[(int) hour]++;
        }
        // spread evenly over 4.8 hours: no hour takes more than about a fifth of the fleet (60), each of the first
        // four takes some
        for (int hour = 0; hour < 4; hour++) {
            assertThat(perHour[hour]).as("renewals in hour " + hour).isBetween(35, 90);
        }
    }

    @Test
    void aRenewedCertificateIsPlannedAfreshFromItsOwnLifetime() {
        hold(certificate("links.shop.test", T0));
        var scheduler = scheduler(this::renewAndHold, RenewalScheduler.RenewalWindows.NONE);
        scheduler.start();

        executor.advance(Duration.ofDays(100));

        assertThat(attempts).hasSize(1);
        Instant renewedAt = attempts.get(0).at();
        assertThat(scheduler.plannedRenewal("links.shop.test"))
                .get()
                // certificates keep whole seconds
                .satisfies(next -> assertThat(next)
                        .isAfterOrEqualTo(renewedAt.plus(Duration.ofDays(60)).minusSeconds(1)));
    }

    @Test
    void aRestartWithManyDueCertificatesSpreadsTheirRenewals() {
        for (int i = 0; i < 200; i++) {
            hold(certificate("n" + i + ".shop.test", T0.minus(Duration.ofDays(70)))); // all past their due time
        }
        var scheduler = scheduler(name -> succeed(name), RenewalScheduler.RenewalWindows.NONE);
        scheduler.start();

        executor.advance(Duration.ofHours(1));

        assertThat(attempts).hasSize(200);
        long inFirstMinute = attempts.stream()
                .filter(a -> a.at().isBefore(T0.plus(Duration.ofDays(1)).plus(Duration.ofMinutes(1))))
                .count();
        assertThat(inFirstMinute)
                .as("renewals in the first minute after the restart")
                .isLessThan(20);
        assertThat(attempts).extracting(Attempt::at).doesNotHaveDuplicates();
    }

    @Test
    void failuresBackOffExponentiallyFromAMinuteUpToSixHours() {
        hold(certificate("links.shop.test", T0.minus(Duration.ofDays(70))));
        var scheduler = scheduler(
                name -> CompletableFuture.failedFuture(new IllegalStateException("CA says no")),
                RenewalScheduler.RenewalWindows.NONE);
        scheduler.start();

        executor.advance(Duration.ofDays(2));

        var gaps = new ArrayList<Long>();
        for (int i = 1; i < attempts.size(); i++) {
            gaps.add(Duration.between(attempts.get(i - 1).at(), attempts.get(i).at())
                    .toMinutes());
        }
        assertThat(gaps.subList(0, 11)).containsExactly(1L, 2L, 4L, 8L, 16L, 32L, 64L, 128L, 256L, 360L, 360L);
        assertThat(scheduler.lastError("links.shop.test")).contains("CA says no");
        // a failed renewal never drops the certificate in use
        assertThat(store.indexed("links.shop.test")).isPresent();
        assertThat(store.load("links.shop.test")).isPresent();
    }

    @Test
    void theCasRenewalWindowWinsOverTheLifetimeRule() {
        Instant start = T0.plus(Duration.ofDays(20));
        hold(certificate("links.shop.test", T0));
        var scheduler = scheduler(this::renewAndHold, certificate -> {
            Instant windowStart = certificate.notBefore().plus(Duration.ofDays(20));
            return Optional.of(new Window(windowStart, windowStart.plus(Duration.ofHours(6))));
        });
        scheduler.start();

        executor.advance(Duration.ofDays(30));

        assertThat(attempts).hasSize(1);
        assertThat(attempts.get(0).at()).isBetween(start, start.plus(Duration.ofHours(6)));
    }

    @Test
    void aCaThatCannotAnswerForItsWindowLeavesTheLifetimeRule() {
        hold(certificate("links.shop.test", T0));
        var scheduler = scheduler(this::renewAndHold, certificate -> {
            throw new UnsupportedOperationException("Server does not support renewal-info");
        });
        scheduler.start();

        executor.advance(Duration.ofDays(59));
        assertThat(attempts).isEmpty();
        executor.advance(Duration.ofDays(4)); // due at day 60, plus at most a 30th of the lifetime

        assertThat(attempts).hasSize(1);
    }

    @Test
    void aForgottenNameIsNotRenewed() throws Exception {
        hold(certificate("links.shop.test", T0));
        var scheduler = scheduler(name -> succeed(name), RenewalScheduler.RenewalWindows.NONE);
        scheduler.start();
        executor.advance(Duration.ofDays(1));

        store.delete("links.shop.test");
        executor.advance(Duration.ofDays(90));

        assertThat(attempts).isEmpty();
        assertThat(scheduler.plannedRenewal("links.shop.test")).isEmpty();
    }

    @Test
    void aCertificateStoredBeforeARestartIsRenewedWithoutAnyHandshakeOrLoadingACertificateToPlan() throws Exception {
        hold(certificate("due.shop.test", T0.minus(Duration.ofDays(70))));
        hold(certificate("fresh.shop.test", T0));
        store = new CertificateStore(storage); // a restart: nothing in memory, only what is stored
        store.scanIndex();
        var scheduler = scheduler(this::renewAndHold, RenewalScheduler.RenewalWindows.NONE);
        scheduler.start();

        executor.advance(Duration.ofHours(2));

        assertThat(attempts).extracting(Attempt::name).containsExactly("due.shop.test");
        assertThat(storage.loads("chain.pem") + storage.loads("key.pem"))
                .as("certificates parsed")
                .isZero();
        assertThat(scheduler.plannedRenewal("due.shop.test")).get().satisfies(next -> assertThat(next)
                .isAfter(executor.now().plus(Duration.ofDays(59))));
    }

    @Test
    void aHundredThousandIndexedCertificatesKeepPlansOnlyForTheFewDueBeforeTheNextScan() throws Exception {
        int count = 100_000;
        Instant now = executor.now();
        for (int i = 0; i < count; i++) {
            // due (two thirds into a 90-day life) from now on, one every 3 minutes: 4 due within the first scan
            Instant notBefore = now.minus(Duration.ofDays(60)).plus(Duration.ofMinutes(3L * i));
            storage.store(
                    "certificates/n" + i + ".shop.test/meta.json",
                    ("{\"name\":\"n" + i + ".shop.test\","
                                    + "\"issuer\":\"test\",\"not_before\":\"" + notBefore + "\",\"not_after\":\""
                                    + notBefore.plus(LIFETIME) + "\",\"serial\":\"" + Integer.toHexString(i + 1)
                                    + "\"}")
                            .getBytes(StandardCharsets.UTF_8));
        }
        store = new CertificateStore(storage);
        assertThat(store.scanIndex().indexed()).isEqualTo(count);
        var scheduler = scheduler(name -> succeed(name), RenewalScheduler.RenewalWindows.NONE);

        long start = System.nanoTime();
        scheduler.scan();
        long scanMillis = (System.nanoTime() - start) / 1_000_000;

        System.out.printf("renewal scan over %,d indexed certificates: %d ms%n", count, scanMillis);
        assertThat(scheduler.plansHeld()).isLessThanOrEqualTo(4);
        assertThat(storage.loads("chain.pem")).isZero();
    }

    @Test
    void aNameNoLongerConfiguredIsNotRenewedButKeepsItsStoredCertificate() {
        hold(certificate("gone.shop.test", T0.minus(Duration.ofDays(70))));
        hold(certificate("kept.shop.test", T0.minus(Duration.ofDays(70))));
        configured = name -> !name.equals("gone.shop.test");
        scheduler(this::renewAndHold, RenewalScheduler.RenewalWindows.NONE).start();

        executor.advance(Duration.ofDays(2));

        assertThat(attempts).extracting(Attempt::name).containsExactly("kept.shop.test");
        assertThat(store.indexed("gone.shop.test")).isPresent();
    }

    @Test
    void aFailureRecordedBeforeARestartHoldsTheRenewalBackUntilItsRetryTime() {
        hold(certificate("links.shop.test", T0.minus(Duration.ofDays(70))));
        Instant retryAt = executor.now().plus(Duration.ofHours(3));
        new IssuanceFailures(storage, executor.clock)
                .recordFailure(
                        "links.shop.test",
                        new IssuanceException("rate limited by the CA: too many new orders", null, retryAt));
        failures = new IssuanceFailures(storage, executor.clock); // the restarted node reads it from storage
        var scheduler = scheduler(this::renewAndHold, RenewalScheduler.RenewalWindows.NONE);
        scheduler.start();

        executor.advance(Duration.ofDays(1));

        assertThat(attempts).extracting(Attempt::at).containsExactly(retryAt);
    }

    @Test
    void theFailureStateTheRenewalRecordedDecidesWhenItIsTriedAgain() {
        hold(certificate("links.shop.test", T0.minus(Duration.ofDays(70))));
        failures = new IssuanceFailures(storage, executor.clock);
        var scheduler = scheduler(
                name -> {
                    // as the resolver does for a failure at the CA: the one place that decides the backoff
                    Instant retryAt = executor.now().plus(Duration.ofHours(2));
                    IssuanceException error = new IssuanceException("rate limited by the CA", null, retryAt);
                    failures.recordFailure(name, error);
                    return CompletableFuture.failedFuture(error);
                },
                RenewalScheduler.RenewalWindows.NONE);
        scheduler.start();

        executor.advance(Duration.ofHours(3));

        assertThat(attempts).hasSize(2);
        assertThat(Duration.between(attempts.get(0).at(), attempts.get(1).at())).isEqualTo(Duration.ofHours(2));
    }

    @Test
    void onlyTheCasOwnCertificatesAreLoadedToAskForWindowsAndNotAgainSoonOnceItHasNone() {
        hold(certificate("a.shop.test", T0));
        hold(certificate("b.shop.test", T0));
        hold(certificate("c.shop.test", T0, "internal"));
        AtomicInteger asked = new AtomicInteger();
        var scheduler = scheduler(this::renewAndHold, RenewalScheduler.RenewalWindows.forIssuer("test", c -> {
            asked.incrementAndGet();
            return Optional.empty(); // as acme4j's issuer answers when the CA has no renewal information
        }));
        scheduler.start();

        executor.advance(Duration.ofHours(5));
        assertThat(asked).hasValue(1);
        assertThat(storage.loads("chain.pem")).isEqualTo(1);

        executor.advance(Duration.ofHours(2));
        assertThat(asked).hasValue(2);
    }

    private RenewalScheduler scheduler(RenewalScheduler.RenewalAction action, RenewalScheduler.RenewalWindows windows) {
        RenewalScheduler.RenewalAction recording = name -> {
            attempts.add(new Attempt(name, executor.now()));
            return action.renew(name);
        };
        return RenewalScheduler.builder()
                .store(store)
                .action(recording)
                .windows(windows)
                .configured(name -> configured.test(name))
                .failures(failures)
                .clock(executor.clock)
                .executor(executor)
                .random(new Random(7))
                .build();
    }

    /** What the resolver does: the new certificate replaces the old one, then the renewal completes. */
    private CompletionStage<?> renewAndHold(String name) {
        hold(certificate(name, executor.now()));
        return succeed(name);
    }

    @Test
    void aRenewalThatSucceedsWithoutANewCertificateShowingUpIsNotRepeatedSoon() {
        hold(certificate("links.shop.test", T0.minus(Duration.ofDays(70))));
        var scheduler = scheduler(name -> succeed(name), RenewalScheduler.RenewalWindows.NONE);
        scheduler.start();

        executor.advance(Duration.ofHours(20));

        assertThat(attempts).hasSize(1);
    }

    private static CompletionStage<?> succeed(String name) {
        return CompletableFuture.completedFuture(name);
    }

    private void hold(CertifiedKey certificate) {
        try {
            store.save(certificate);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static CertifiedKey certificate(String name, Instant notBefore) {
        return certificate(name, notBefore, LIFETIME);
    }

    private static CertifiedKey certificate(String name, Instant notBefore, Duration lifetime) {
        BigInteger serial = BigInteger.valueOf(SERIALS.getAndIncrement());
        var leaf = SelfSigned.certificate(KEY, name, serial, notBefore, notBefore.plus(lifetime));
        return new CertifiedKey(name, KEY.getPrivate(), List.of(leaf), "test");
    }

    private static CertifiedKey certificate(String name, Instant notBefore, String issuer) {
        CertifiedKey certificate = certificate(name, notBefore);
        return new CertifiedKey(name, certificate.key(), certificate.chain(), issuer);
    }

    /** Storage that counts reads by file name, to tell which certificates were loaded. */
    private static final class CountingStorage extends ForwardingStorage {
        private final ConcurrentHashMap<String, AtomicInteger> loads = new ConcurrentHashMap<>();

        CountingStorage(Storage delegate) {
            super(delegate);
        }

        int loads(String file) {
            AtomicInteger count = loads.get(file);
            return count == null ? 0 : count.get();
        }

        @Override
        public Optional<byte[]> load(String key) throws IOException {
            loads.computeIfAbsent(key.substring(key.lastIndexOf('/') + 1), k -> new AtomicInteger())
                    .incrementAndGet();
            return super.load(key);
        }
    }
}
