package io.clicktls.certificates;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RefusalLogTest {

    private final AtomicLong nanos = new AtomicLong(1_000_000_000_000L);
    private final RefusalLog log = new RefusalLog(nanos::get);

    private void advance(Duration by) {
        nanos.addAndGet(by.toNanos());
    }

    @Test
    void aNameIsLoggedOncePerTenMinutes() {
        assertThat(log.shouldLog("a.example.com")).isTrue();
        assertThat(log.shouldLog("a.example.com")).isFalse();
        advance(Duration.ofMinutes(9));
        assertThat(log.shouldLog("a.example.com")).isFalse();
        advance(Duration.ofMinutes(2));
        assertThat(log.shouldLog("a.example.com")).isTrue();
    }

    @Test
    void aFloodOfNamesWritesAboutTenLinesAMinute() {
        int logged = 0;
        for (int i = 0; i < 1000; i++) {
            if (log.shouldLog("scan" + i + ".example.com")) {
                logged++;
            }
            advance(Duration.ofMillis(60)); // 1000 names in one minute
        }
        assertThat(logged).isBetween(RefusalLog.PER_MINUTE, RefusalLog.PER_MINUTE * 2 + 1);
    }

    @Test
    void aNameNotLoggedForTheGlobalBoundIsLoggedLater() {
        for (int i = 0; i < RefusalLog.PER_MINUTE; i++) {
            assertThat(log.shouldLog("burst" + i + ".example.com")).isTrue();
        }
        assertThat(log.shouldLog("shop.example.com")).isFalse();
        advance(Duration.ofSeconds(7));
        assertThat(log.shouldLog("shop.example.com")).isTrue();
    }

    @Test
    void controlCharactersInANameAreNotWrittenToTheLog() {
        assertThat(RefusalLog.printable("evil\n2026 INFO fake line")).isEqualTo("evil?2026?INFO?fake?line");
        assertThat(RefusalLog.printable("x".repeat(1000))).hasSize(253);
    }
}
