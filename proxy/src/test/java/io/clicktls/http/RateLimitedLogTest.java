package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RateLimitedLogTest {

    private final AtomicLong now = new AtomicLong(1_000);
    private final RateLimitedLog lines = new RateLimitedLog(Duration.ofSeconds(10), now::get);

    @Test
    void firstLineOfAKindPassesAndTheRestOfItsIntervalIsCountedThenReported() {
        assertThat(lines.admit("http2")).isZero();
        assertThat(lines.admit("http2")).isEqualTo(RateLimitedLog.SUPPRESS);
        now.addAndGet(Duration.ofSeconds(9).toNanos());
        assertThat(lines.admit("http2")).isEqualTo(RateLimitedLog.SUPPRESS);

        now.addAndGet(Duration.ofSeconds(1).toNanos());
        assertThat(lines.admit("http2")).as("two held back since the last line").isEqualTo(2);
        assertThat(lines.admit("http2")).isEqualTo(RateLimitedLog.SUPPRESS);
    }

    @Test
    void eachKindHasItsOwnInterval() {
        assertThat(lines.admit("http2")).isZero();
        assertThat(lines.admit("tls")).isZero();
        assertThat(lines.admit("tls")).isEqualTo(RateLimitedLog.SUPPRESS);
    }

    @Test
    void noteNamesTheLinesHeldBackOnlyWhenThereWereAny() {
        assertThat(RateLimitedLog.suppressedNote(0)).isEmpty();
        assertThat(RateLimitedLog.suppressedNote(1999)).isEqualTo(" (1999 more like it since the last line)");
    }
}
