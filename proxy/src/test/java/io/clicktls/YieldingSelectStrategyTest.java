package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.clicktls.testing.Eventually;
import io.netty.channel.DefaultSelectStrategyFactory;
import io.netty.channel.SelectStrategy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class YieldingSelectStrategyTest {

    private static final String RUNNING_ON_CORE_1 = "31985 (cat) R 31981 31981 32055 0 -1 4194304 122 0 0 0 0 0 0 0"
            + " 20 0 1 0 2365511 3133440 394 18446744073709551615 94480570376192 94480570396073 140730783697008 0 0 0"
            + " 0 0 0 0 0 0 17 1 0 0 0 0 0 94480570412080 94480570413696 94481229209600 140730783705805\n";

    @Test
    void aRunnableThreadsLineGivesItsCore() {
        assertThat(parse(RUNNING_ON_CORE_1)).isEqualTo(1);
        assertThat(parse(RUNNING_ON_CORE_1.replace(" 17 1 0 0 ", " 17 13 0 0 ")))
                .isEqualTo(13);
    }

    @Test
    void aSleepingThreadIsOnNoCore() {
        assertThat(parse(RUNNING_ON_CORE_1.replace("(cat) R", "(cat) S"))).isEqualTo(-1);
    }

    @Test
    void aCommandNameWithSpacesAndParenthesesIsSkippedWhole() {
        assertThat(parse(RUNNING_ON_CORE_1.replace("(cat)", "(a) R 1 (b)"))).isEqualTo(1);
    }

    @Test
    void aTruncatedLineGivesNoCore() {
        assertThat(parse("31985 (cat) R 31981")).isEqualTo(-1);
        assertThat(parse("garbage")).isEqualTo(-1);
    }

    @Test
    void theCallingThreadReadsAsRunnableOnACore() {
        assumeTrue(Files.isReadable(Path.of("/proc/thread-self/stat")), "Linux /proc only");
        YieldingSelectStrategy.ThreadStat stat = YieldingSelectStrategy.ThreadStat.openCurrent();

        assertThat(stat).isNotNull();
        assertThat(stat.runnableOn()).isBetween(0, Runtime.getRuntime().availableProcessors() * 64);
    }

    @Test
    void readyEventsAreHandledWithoutBlockingAndAnIdleLoopBlocks() throws Exception {
        SelectStrategy strategy = YieldingSelectStrategy.factory(500_000).newSelectStrategy();
        AtomicInteger polls = new AtomicInteger();

        assertThat(strategy.calculateStrategy(
                        () -> {
                            polls.incrementAndGet();
                            return 3;
                        },
                        false))
                .isEqualTo(3);
        assertThat(strategy.calculateStrategy(
                        () -> {
                            polls.incrementAndGet();
                            return 0;
                        },
                        false))
                .isEqualTo(SelectStrategy.SELECT);
        // tasks waiting: poll, never block
        assertThat(strategy.calculateStrategy(
                        () -> {
                            polls.incrementAndGet();
                            return 0;
                        },
                        true))
                .isZero();
        assertThat(polls).hasValue(3);
    }

    @Test
    void aBusyLoopWhoseSiblingIsLateButAsleepKeepsHandlingItsEvents() throws Exception {
        // Two loops of one group; the second takes one turn and then sleeps (not runnable): the first, busy past the
        // stall limit on every turn, checks it in /proc and goes on answering with its ready events.
        var factory = YieldingSelectStrategy.factory(1);
        SelectStrategy busy = factory.newSelectStrategy();
        SelectStrategy sibling = factory.newSelectStrategy();
        Thread other = new Thread(() -> {
            try {
                sibling.calculateStrategy(() -> 1, false);
                Thread.sleep(60_000); // the point: a sibling that is asleep, not runnable
            } catch (Exception e) {
                // interrupted at the end of the test
            }
        });
        other.start();
        try {
            Eventually.holds(
                    Duration.ofSeconds(5),
                    "the sibling took its turn and sleeps",
                    () -> other.getState() == Thread.State.TIMED_WAITING);
            for (int i = 0; i < 100; i++) {
                assertThat(busy.calculateStrategy(() -> 5, false)).isEqualTo(5);
            }
        } finally {
            other.interrupt();
            other.join();
        }
    }

    @Test
    void noStallLimitMeansNettysDefaultStrategy() {
        assertThat(YieldingSelectStrategy.factory(0)).isSameAs(DefaultSelectStrategyFactory.INSTANCE);
    }

    private static int parse(String line) {
        byte[] bytes = line.getBytes(StandardCharsets.US_ASCII);
        return YieldingSelectStrategy.ThreadStat.parse(bytes, bytes.length);
    }
}
