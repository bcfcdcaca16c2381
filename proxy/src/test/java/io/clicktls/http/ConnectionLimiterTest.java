package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ConnectionLimiterTest {

    @Test
    void defaultLimitKeepsAReserveAndHalfOfTheRestForUpstreams() {
        assertThat(ConnectionLimiter.derivedMaxConnections(1024)).isEqualTo(384);
        assertThat(ConnectionLimiter.derivedMaxConnections(65_536)).isEqualTo(30_720);
        assertThat(ConnectionLimiter.derivedMaxConnections(1_048_576)).isEqualTo(491_520);
    }

    @Test
    void tinyOrUnknownDescriptorLimitsStillLeaveSomethingToServe() {
        assertThat(ConnectionLimiter.derivedMaxConnections(256)).isEqualTo(16);
        assertThat(ConnectionLimiter.derivedMaxConnections(-1)).isEqualTo(ConnectionLimiter.FALLBACK_MAX_CONNECTIONS);
    }
}
