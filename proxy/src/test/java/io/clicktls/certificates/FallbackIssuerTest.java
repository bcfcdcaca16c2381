package io.clicktls.certificates;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.certificates.IssuerUnavailableException.Reason;
import io.clicktls.metrics.Metrics;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.testing.MutableClock;
import io.clicktls.testing.SelfSigned;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.junit.jupiter.api.Test;

class FallbackIssuerTest {

    private static final Instant T0 = Instant.parse("2026-12-07T12:00:00Z");
    private static final KeyPair KEY = SelfSigned.ecKey();
    private static final X509Certificate LEAF =
            SelfSigned.certificate(KEY, "links.shop.test", BigInteger.ONE, T0, T0.plus(Duration.ofDays(6)));

    private final MutableClock clock = new MutableClock(T0);
    private final ScriptedIssuer first = new ScriptedIssuer("first.test");
    private final ScriptedIssuer second = new ScriptedIssuer("second.test");
    private final FallbackIssuer fallback = new FallbackIssuer(List.of(first, second), clock);

    @Test
    void aHealthyFirstIssuerIssuesAndTheSecondIsNotAsked() throws Exception {
        assertThat(fallback.issue("links.shop.test").issuer()).isEqualTo("first.test");
        assertThat(second.calls).isEmpty();
    }

    @Test
    void anUnreachableFirstIssuerFallsThroughToTheSecondAndIsLeftAloneForItsBackoff() throws Exception {
        first.fail(Reason.UNREACHABLE);

        assertThat(fallback.issue("a.shop.test").issuer()).isEqualTo("second.test");
        clock.advance(Duration.ofSeconds(10));
        assertThat(fallback.issue("b.shop.test").issuer()).isEqualTo("second.test");

        assertThat(first.calls).containsExactly("a.shop.test");
        assertThat(second.calls).containsExactly("a.shop.test", "b.shop.test");
    }

    @Test
    void onceTheFirstIssuerRecoversOrdersGoBackToIt() throws Exception {
        first.fail(Reason.UNREACHABLE);
        assertThat(fallback.issue("a.shop.test").issuer()).isEqualTo("second.test");

        clock.advance(FallbackIssuer.OUTAGE_BACKOFF_MIN);

        assertThat(fallback.issue("a.shop.test").issuer()).isEqualTo("first.test");
        assertThat(first.calls).containsExactly("a.shop.test", "a.shop.test");
    }

    @Test
    void outageBackoffDoublesWhileTheIssuerStaysDown() throws Exception {
        first.fail(Reason.UNREACHABLE);
        fallback.issue("a.shop.test");
        clock.advance(Duration.ofSeconds(30));
        first.fail(Reason.UNREACHABLE);
        fallback.issue("a.shop.test"); // second outage: 60 s
        clock.advance(Duration.ofSeconds(59));
        fallback.issue("a.shop.test");

        assertThat(first.calls).hasSize(2);
        clock.advance(Duration.ofSeconds(1));
        assertThat(fallback.issue("a.shop.test").issuer()).isEqualTo("first.test");
    }

    @Test
    void aRateLimitHoldsOnlyThatNameBackAtTheFirstIssuerUntilTheCasRetryAfter() throws Exception {
        first.failures.add(new IssuerUnavailableException(
                Reason.RATE_LIMITED, "rate limited", null, T0.plus(Duration.ofHours(3))));

        assertThat(fallback.issue("a.shop.test").issuer()).isEqualTo("second.test");
        assertThat(fallback.issue("b.shop.test").issuer()).isEqualTo("first.test");
        assertThat(fallback.issue("a.shop.test").issuer()).isEqualTo("second.test");
        clock.advance(Duration.ofHours(3));
        assertThat(fallback.issue("a.shop.test").issuer()).isEqualTo("first.test");
    }

    @Test
    void aFirstValidationFailureIsTheNamesButASecondInARowFallsThrough() throws Exception {
        first.fail(Reason.VALIDATION_FAILED);
        assertThatThrownBy(() -> fallback.issue("a.shop.test")).isInstanceOf(IssuerUnavailableException.class);
        assertThat(second.calls).isEmpty();

        first.fail(Reason.VALIDATION_FAILED);
        assertThat(fallback.issue("a.shop.test").issuer()).isEqualTo("second.test");
        // held back at the first issuer for the name for a while
        assertThat(fallback.issue("a.shop.test").issuer()).isEqualTo("second.test");
        assertThat(first.calls).hasSize(2);
    }

    @Test
    void aRefusalOfTheNameIsNotRetriedElsewhere() {
        first.failures.add(new IssuanceException("the CA refused a.shop.test: rejectedIdentifier"));

        assertThatThrownBy(() -> fallback.issue("a.shop.test")).hasMessageContaining("rejectedIdentifier");
        assertThat(second.calls).isEmpty();
    }

    @Test
    void whenEveryIssuerIsDownTheOrderFailsWithTheEarliestRetry() throws Exception {
        first.fail(Reason.UNREACHABLE);
        second.fail(Reason.UNREACHABLE);

        assertThatThrownBy(() -> fallback.issue("a.shop.test"))
                .isInstanceOf(IssuanceException.class)
                .hasMessageContaining("first.test")
                .hasMessageContaining("second.test")
                .satisfies(e -> assertThat(((IssuanceException) e).retryAfter())
                        .isEqualTo(T0.plus(FallbackIssuer.OUTAGE_BACKOFF_MIN)));
        // both backing off: nothing is asked until the first may be tried again
        assertThatThrownBy(() -> fallback.issue("a.shop.test")).isInstanceOf(IssuanceException.class);
        assertThat(first.calls).hasSize(1);
        assertThat(second.calls).hasSize(1);
    }

    @Test
    void failuresAreCountedByIssuerAndReasonAndFallbacksByTheFirstIssuerAndTheSigner() throws Exception {
        Metrics metrics = new Metrics();
        metrics.issuers(List.of("first.test", "second.test"), (issuer, state) -> 0);
        FallbackIssuer counted = new FallbackIssuer(
                List.of(
                        new FailureCountingIssuer(first, metrics::issuerFailed),
                        new FailureCountingIssuer(second, metrics::issuerFailed)),
                clock,
                metrics::issuerFellBack);
        assertThat(metrics.scrape())
                .as("registered at 0")
                .contains("clicktls_issuer_fallbacks_total{from=\"first.test\",to=\"second.test\"} 0.0")
                .contains(
                        "clicktls_certificate_issuance_failures_total{issuer=\"second.test\",reason=\"validation\"} 0.0")
                .contains("clicktls_certificates_stored{issuer=\"other\",state=\"expired\"} 0.0");

        first.fail(Reason.RATE_LIMITED);
        assertThat(counted.issue("a.shop.test").issuer()).isEqualTo("second.test");
        first.fail(Reason.UNREACHABLE);
        assertThat(counted.issue("b.shop.test").issuer()).isEqualTo("second.test");
        clock.advance(FallbackIssuer.OUTAGE_BACKOFF_MIN);
        first.failures.add(new IssuanceException("the CA refused c.shop.test: rejectedIdentifier"));
        assertThatThrownBy(() -> counted.issue("c.shop.test")).isInstanceOf(IssuanceException.class);

        assertThat(metrics.scrape())
                .contains(
                        "clicktls_certificate_issuance_failures_total{issuer=\"first.test\",reason=\"rate_limited\"} 1.0")
                .contains("clicktls_certificate_issuance_failures_total{issuer=\"first.test\",reason=\"outage\"} 1.0")
                .contains("clicktls_certificate_issuance_failures_total{issuer=\"first.test\",reason=\"other\"} 1.0")
                .contains("clicktls_certificate_issuance_failures_total{issuer=\"second.test\",reason=\"other\"} 0.0")
                .contains("clicktls_issuer_fallbacks_total{from=\"first.test\",to=\"second.test\"} 2.0");
        metrics.close();
    }

    /** An issuer that fails as told, then issues. */
    private static final class ScriptedIssuer implements CertificateIssuer {
        final String label;
        final Deque<IssuanceException> failures = new ArrayDeque<>();
        final List<String> calls = new ArrayList<>();

        ScriptedIssuer(String label) {
            this.label = label;
        }

        void fail(Reason reason) {
            failures.add(new IssuerUnavailableException(reason, label + ": " + reason, null, null));
        }

        @Override
        public CertifiedKey issue(String name) throws IssuanceException {
            calls.add(name);
            IssuanceException failure = failures.poll();
            if (failure != null) {
                throw failure;
            }
            return new CertifiedKey(name, KEY.getPrivate(), List.of(LEAF), label);
        }

        @Override
        public String label() {
            return label;
        }
    }
}
