package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class ChangedKeysTest {

    /** An executor that queues its tasks until the test runs them, or refuses them while {@code full}. */
    private static final class HeldTasks implements Executor {
        final List<Runnable> queued = new ArrayList<>();
        boolean full;

        @Override
        public void execute(Runnable task) {
            if (full) {
                throw new RejectedExecutionException("full");
            }
            queued.add(task);
        }

        void runAll() {
            while (!queued.isEmpty()) {
                queued.remove(0).run();
            }
        }
    }

    private final HeldTasks executor = new HeldTasks();
    private final List<String> followed = new ArrayList<>();
    private final ChangedKeys keys = new ChangedKeys(followed::add, executor);

    @Test
    void aBurstOfKeysTakesOnePlaceInTheQueueAndARepeatedKeyIsFollowedOnce() {
        for (int i = 0; i < 10_000; i++) {
            keys.accept("certificates/n" + (i % 2_500) + ".test/meta.json");
        }

        assertThat(executor.queued).hasSize(1);
        executor.runAll();
        assertThat(followed).hasSize(2_500).doesNotHaveDuplicates();
    }

    @Test
    void aKeyReportedWhileTheTaskRunsIsFollowedToo() {
        AtomicReference<ChangedKeys> self = new AtomicReference<>();
        self.set(new ChangedKeys(
                key -> {
                    followed.add(key);
                    if (key.equals("first")) {
                        self.get().accept("second"); // as the feed's thread would, while this task runs
                    }
                },
                executor));

        self.get().accept("first");
        executor.runAll();

        assertThat(followed).containsExactly("first", "second");
    }

    @Test
    void keysReportedWhileTheExecutorIsFullAreFollowedByTheNextTaskThatRuns() {
        executor.full = true;
        keys.accept("a");
        keys.accept("b");
        assertThat(executor.queued).isEmpty();

        executor.full = false;
        keys.accept("c");
        executor.runAll();

        assertThat(followed).containsExactlyInAnyOrder("a", "b", "c");
    }
}
