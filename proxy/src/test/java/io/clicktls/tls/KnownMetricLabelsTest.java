package io.clicktls.tls;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.issuance.IssuancePolicy;
import io.clicktls.metrics.Metrics;
import org.junit.jupiter.api.Test;

/**
 * The label values {@link Metrics} exports at 0 from the start are the ones the recording code uses: a new result
 * or reason added here without being added there would appear only once it happens.
 */
class KnownMetricLabelsTest {

    @Test
    void everyHandshakeResultIsKnownInAdvance() {
        assertThat(Metrics.HANDSHAKE_RESULTS)
                .contains(
                        TlsSelectionHandler.OK,
                        TlsSelectionHandler.UNKNOWN_NAME,
                        TlsSelectionHandler.NO_SNI,
                        TlsSelectionHandler.MALFORMED,
                        TlsSelectionHandler.TIMEOUT,
                        TlsSelectionHandler.BACKOFF,
                        TlsSelectionHandler.TOO_MANY_PENDING,
                        TlsSelectionHandler.FAILED);
    }

    @Test
    void everyOnDemandDenialReasonIsKnownInAdvance() {
        assertThat(Metrics.DENIAL_REASONS)
                .contains(
                        IssuancePolicy.INVALID_NAME,
                        IssuancePolicy.NOT_CONFIGURED,
                        IssuancePolicy.NO_PLATFORM,
                        IssuancePolicy.ASK_DENIED,
                        IssuancePolicy.ASK_UNAVAILABLE,
                        IssuancePolicy.ASK_BUSY,
                        IssuancePolicy.DNS_ELSEWHERE,
                        IssuancePolicy.DNS_NOT_FOUND,
                        IssuancePolicy.DNS_UNAVAILABLE,
                        IssuancePolicy.CAA_FORBIDS,
                        IssuancePolicy.RATE_LIMITED,
                        IssuancePolicy.TOO_MANY_PENDING,
                        CertificateResolver.BACKOFF);
    }
}
