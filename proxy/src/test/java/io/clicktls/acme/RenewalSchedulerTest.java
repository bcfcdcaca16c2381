package io.clicktls.acme;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.acme.RenewalScheduler.Settings;
import io.clicktls.acme.RenewalScheduler.Window;
import io.clicktls.pki.CertifiedKey;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;

class RenewalSchedulerTest {

    private static final Instant T0 = Instant.parse("2026-11-01T00:00:00Z");
    private static final Duration LIFETIME = Duration.ofDays(90);
    private static final KeyPair KEY = keyPair();
    private static final AtomicLong SERIALS = new AtomicLong(1);

    private final ManualScheduledExecutor executor = new ManualScheduledExecutor(T0.plus(Duration.ofDays(1)));
    private final ConcurrentHashMap<String, CertifiedKey> held = new ConcurrentHashMap<>();
    private final List<Attempt> attempts = new ArrayList<>();

    private record Attempt(String name, Instant at) {
    }

    @Test
    void renewsOnceWhenAThirdOfTheLifetimeIsLeft() {
        hold(certificate("links.shop.test", T0));
        var scheduler = scheduler(this::renewAndHold, RenewalScheduler.RenewalWindows.NONE);
        scheduler.start();

        executor.advance(Duration.between(executor.now(), T0.plus(Duration.ofDays(60))).minusMinutes(1));
        assertThat(attempts).isEmpty();
        executor.advance(Duration.ofHours(2));

        assertThat(attempts).hasSize(1);
        assertThat(attempts.get(0).at()).isBetween(T0.plus(Duration.ofDays(60)),
                T0.plus(Duration.ofDays(60)).plus(Settings.DEFAULTS.maxJitter()));
    }

    @Test
    void aRenewedCertificateIsPlannedAfreshFromItsOwnLifetime() {
        hold(certificate("links.shop.test", T0));
        var scheduler = scheduler(this::renewAndHold, RenewalScheduler.RenewalWindows.NONE);
        scheduler.start();

        executor.advance(Duration.ofDays(100));

        assertThat(attempts).hasSize(1);
        Instant renewedAt = attempts.get(0).at();
        assertThat(scheduler.plannedRenewal("links.shop.test")).get()
                .satisfies(next -> assertThat(next).isAfterOrEqualTo(renewedAt.plus(Duration.ofDays(60))));
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
                .filter(a -> a.at().isBefore(T0.plus(Duration.ofDays(1)).plus(Duration.ofMinutes(1)))).count();
        assertThat(inFirstMinute).as("renewals in the first minute after the restart").isLessThan(20);
        assertThat(attempts).extracting(Attempt::at).doesNotHaveDuplicates();
    }

    @Test
    void failuresBackOffExponentiallyFromAMinuteUpToSixHours() {
        hold(certificate("links.shop.test", T0.minus(Duration.ofDays(70))));
        var scheduler = scheduler(name -> CompletableFuture.failedFuture(new IllegalStateException("CA says no")),
                RenewalScheduler.RenewalWindows.NONE);
        scheduler.start();

        executor.advance(Duration.ofDays(2));

        var gaps = new ArrayList<Long>();
        for (int i = 1; i < attempts.size(); i++) {
            gaps.add(Duration.between(attempts.get(i - 1).at(), attempts.get(i).at()).toMinutes());
        }
        assertThat(gaps.subList(0, 11)).containsExactly(1L, 2L, 4L, 8L, 16L, 32L, 64L, 128L, 256L, 360L, 360L);
        assertThat(scheduler.lastError("links.shop.test")).contains("CA says no");
        assertThat(held).containsKey("links.shop.test"); // a failed renewal never drops the certificate in use
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
        executor.advance(Duration.ofDays(2));

        assertThat(attempts).hasSize(1);
    }

    @Test
    void aForgottenNameIsNotRenewed() {
        hold(certificate("links.shop.test", T0));
        var scheduler = scheduler(name -> succeed(name), RenewalScheduler.RenewalWindows.NONE);
        scheduler.start();
        executor.advance(Duration.ofDays(1));

        held.remove("links.shop.test");
        executor.advance(Duration.ofDays(90));

        assertThat(attempts).isEmpty();
        assertThat(scheduler.plannedRenewal("links.shop.test")).isEmpty();
    }

    private RenewalScheduler scheduler(RenewalScheduler.RenewalAction action, RenewalScheduler.RenewalWindows windows) {
        RenewalScheduler.RenewalAction recording = name -> {
            attempts.add(new Attempt(name, executor.now()));
            return action.renew(name);
        };
        RenewalScheduler.HeldCertificates source = () -> List.copyOf(held.values());
        return new RenewalScheduler(source, recording, windows, executor.clock, executor, new Random(7),
                Settings.DEFAULTS);
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
        held.put(certificate.name(), certificate);
    }

    private static CertifiedKey certificate(String name, Instant notBefore) {
        try {
            var subject = new X500Name("CN=" + name);
            var builder = new JcaX509v3CertificateBuilder(subject, BigInteger.valueOf(SERIALS.getAndIncrement()),
                    Date.from(notBefore), Date.from(notBefore.plus(LIFETIME)), subject, KEY.getPublic());
            var signer = new JcaContentSignerBuilder("SHA256withECDSA").build(KEY.getPrivate());
            var leaf = new JcaX509CertificateConverter().getCertificate(builder.build(signer));
            return new CertifiedKey(name, KEY.getPrivate(), List.of(leaf), "test");
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static KeyPair keyPair() {
        try {
            var generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            return generator.generateKeyPair();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
