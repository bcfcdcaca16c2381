package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.certificates.IssuanceFailure;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class CertificateStateTest {

    private static final Instant NOW = Instant.parse("2026-11-25T12:00:00Z");

    private static CertificateFacts certificate(Duration lifetime, Duration left) {
        Instant notAfter = NOW.plus(left);
        return new CertificateFacts(notAfter.minus(lifetime), notAfter, "internal", "CA", "01", true);
    }

    @Test
    void ninetyDayCertificateWithSixtyDaysLeftIsValid() {
        assertThat(CertificateState.of(certificate(Duration.ofDays(90), Duration.ofDays(60)), false, null, null, NOW))
                .isEqualTo(CertificateState.VALID);
    }

    @Test
    void ninetyDayCertificateWithTenDaysLeftIsExpiring() {
        assertThat(CertificateState.of(certificate(Duration.ofDays(90), Duration.ofDays(10)), false, null, null, NOW))
                .isEqualTo(CertificateState.EXPIRING);
    }

    @Test
    void sixDayCertificateIsExpiringOnlyInItsLastThird() {
        assertThat(CertificateState.of(certificate(Duration.ofDays(6), Duration.ofDays(5)), false, null, null, NOW))
                .isEqualTo(CertificateState.VALID);
        assertThat(CertificateState.of(certificate(Duration.ofDays(6), Duration.ofDays(1)), false, null, null, NOW))
                .isEqualTo(CertificateState.EXPIRING);
    }

    @Test
    void pastNotAfterIsExpired() {
        assertThat(CertificateState.of(
                        certificate(Duration.ofDays(90), Duration.ofSeconds(-1)), false, null, null, NOW))
                .isEqualTo(CertificateState.EXPIRED);
    }

    @Test
    void noCertificateIsNone() {
        assertThat(CertificateState.of(null, false, null, null, NOW)).isEqualTo(CertificateState.NONE);
    }

    @Test
    void aListedNameWaitingForItsDnsIsWaitingForDnsAndARateLimitIsHeld() {
        Hold dns = Hold.waitingForDns(
                "waiting for DNS: links.shop.test resolves to 192.0.2.7", NOW.plusSeconds(60), java.util.List.of());
        Hold limit = new Hold("too many certificates for shop.test this week", NOW.plusSeconds(60));

        assertThat(CertificateState.of(null, false, null, dns, NOW)).isEqualTo(CertificateState.WAITING_FOR_DNS);
        assertThat(CertificateState.WAITING_FOR_DNS.wireName()).isEqualTo("waiting_for_dns");
        assertThat(CertificateState.of(null, false, null, limit, NOW)).isEqualTo(CertificateState.HELD);
    }

    @Test
    void issuingWinsOverAFailureAndAFailureOverAValidCertificate() {
        IssuanceFailure failure = new IssuanceFailure("rateLimited", NOW, 1, null);
        CertificateFacts valid = certificate(Duration.ofDays(90), Duration.ofDays(60));

        assertThat(CertificateState.of(valid, true, failure, null, NOW)).isEqualTo(CertificateState.ISSUING);
        assertThat(CertificateState.of(valid, false, failure, null, NOW)).isEqualTo(CertificateState.FAILED);
    }

    @Test
    void holdCountsUntilItEnds() {
        assertThat(CertificateState.of(null, false, null, new Hold("limit", NOW.plusSeconds(60)), NOW))
                .isEqualTo(CertificateState.HELD);
        assertThat(CertificateState.of(null, false, null, new Hold("limit", NOW.minusSeconds(60)), NOW))
                .isEqualTo(CertificateState.NONE);
    }
}
