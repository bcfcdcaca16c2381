package io.clicktls.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CopyPacingTest {

    private long now;
    private final List<Long> pauses = new ArrayList<>();

    private CopyPacing pacing(double share) {
        return CopyPacing.share(share, () -> now, pauses::add);
    }

    /** A step of the copy that keeps the thread busy for {@code millis}. */
    private Runnable busyFor(double millis) {
        return () -> now += (long) (millis * 1_000_000);
    }

    @Test
    void aStepIsFollowedByThePauseThatKeepsTheThreadWithinItsShare() {
        CopyPacing quarter = pacing(0.25);

        quarter.run(busyFor(4));

        assertThat(pauses).containsExactly(Duration.ofMillis(12).toNanos());
    }

    @Test
    void shortStepsSaveTheirPausesUpUntilTheyAreWorthASleep() {
        CopyPacing half = pacing(0.5);

        for (int i = 0; i < 3; i++) {
            half.run(busyFor(0.5));
        }
        assertThat(pauses).as("1.5 ms owed: less than a pause").isEmpty();
        half.run(busyFor(0.5));

        assertThat(pauses).containsExactly(CopyPacing.SHORTEST_PAUSE.toNanos());
    }

    @Test
    void aVeryLongStepIsFollowedByTheLongestPauseOnly() {
        pacing(0.25).run(busyFor(60_000));

        assertThat(pauses).containsExactly(CopyPacing.LONGEST_PAUSE.toNanos());
    }

    @Test
    void aFailedStepStillCountsAsBusyTime() {
        CopyPacing quarter = pacing(0.25);

        assertThatThrownBy(() -> quarter.run(() -> {
                    now += Duration.ofMillis(2).toNanos();
                    throw new IllegalStateException("disk full");
                }))
                .isInstanceOf(IllegalStateException.class);

        assertThat(pauses).containsExactly(Duration.ofMillis(6).toNanos());
    }

    @Test
    void aWholeCoreOrFlatOutNeverPauses() {
        CopyPacing whole = pacing(1);
        CopyPacing flatOut = CopyPacing.flatOut();

        whole.run(busyFor(100));
        flatOut.run(() -> {});

        assertThat(pauses).isEmpty();
        assertThat(flatOut.share()).isEqualTo(1);
    }

    @Test
    void theShareMustBeAPartOfOneCore() {
        for (double share : new double[] {0, -0.5, 1.5, Double.NaN}) {
            assertThatThrownBy(() -> CopyPacing.share(share))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("expected: more than 0, at most 1");
        }
        assertThat(CopyPacing.background().share()).isEqualTo(CopyPacing.BACKGROUND_SHARE);
    }
}
