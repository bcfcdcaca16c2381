package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class WarmUpTest {

    @Test
    void theStartUpWarmUpRunsOnADaemonThreadThatEndsOnItsOwn() throws InterruptedException {
        Thread warmUp = WarmUp.startInBackground();

        assertThat(warmUp.isDaemon()).as("must not keep a stopping JVM alive").isTrue();
        assertThat(warmUp.getName()).isEqualTo("clicktls-warm-up");
        warmUp.join(60_000);
        assertThat(warmUp.isAlive()).isFalse();
    }
}
