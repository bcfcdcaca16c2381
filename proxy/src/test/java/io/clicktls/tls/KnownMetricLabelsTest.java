package io.clicktls.tls;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.certificates.Refusal;
import io.clicktls.metrics.Metrics;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The label values {@link Metrics} exports at 0 from the start are the ones the recording code uses: a new result
 * or reason added to an enum without being added there would appear only once it happens.
 */
class KnownMetricLabelsTest {

    @Test
    void everyHandshakeResultIsKnownInAdvance() {
        assertThat(Metrics.HANDSHAKE_RESULTS)
                .containsAll(Arrays.stream(TlsSelectionHandler.Outcome.values())
                        .map(outcome -> outcome.label)
                        .toList());
    }

    @Test
    void everyOnDemandDenialReasonIsKnownInAdvance() {
        assertThat(Metrics.DENIAL_REASONS)
                .containsAll(Arrays.stream(Refusal.values()).map(Refusal::label).toList());
    }
}
