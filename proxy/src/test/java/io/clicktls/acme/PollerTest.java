package io.clicktls.acme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.testing.MutableClock;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.shredzone.acme4j.PollableResource;
import org.shredzone.acme4j.Status;
import org.shredzone.acme4j.exception.AcmeException;

class PollerTest {

    /** Answers each fetch with the next status and Retry-After. */
    private static final class ScriptedResource implements PollableResource {
        private Status status = Status.PENDING;
        private final Deque<Status> statuses;
        private final Deque<Optional<Instant>> retryAfters;
        int fetches;
        Runnable onFetch = () -> {};

        ScriptedResource(List<Status> statuses, List<Optional<Instant>> retryAfters) {
            this.statuses = new ArrayDeque<>(statuses);
            this.retryAfters = new ArrayDeque<>(retryAfters);
        }

        @Override
        public Status getStatus() {
            return status;
        }

        @Override
        public Optional<Instant> fetch() {
            onFetch.run();
            fetches++;
            status = statuses.isEmpty() ? status : statuses.poll();
            return retryAfters.isEmpty() ? Optional.empty() : retryAfters.poll();
        }
    }

    private final MutableClock clock = new MutableClock(Instant.parse("2026-11-25T12:00:00Z"));
    private final List<Long> sleeps = new ArrayList<>();
    private final Poller poller = new Poller(clock, Duration.ofSeconds(10), duration -> {
        sleeps.add(duration.toMillis());
        clock.advance(duration);
    });

    @Test
    void pollsEvery25MsForTheFirst300MsThenBacksOffByHalfUpToOneSecond() throws Exception {
        var resource = new ScriptedResource(pendingThenValid(24), List.of());

        Status status = poller.await(resource, "order", EnumSet.of(Status.VALID, Status.INVALID));

        assertThat(status).isEqualTo(Status.VALID);
        assertThat(sleeps)
                .containsExactly(
                        25L, 25L, 25L, 25L, 25L, 25L, 25L, 25L, 25L, 25L, 25L, 25L, 38L, 56L, 84L, 127L, 190L, 285L,
                        427L, 641L, 961L, 1000L, 1000L, 1000L, 1000L);
        assertThat(resource.fetches).isEqualTo(25);
    }

    @Test
    void theFlatPhaseEndsAfter300MsOfWallTimeEvenWhenFetchesAreSlow() throws Exception {
        var slow = new ScriptedResource(pendingThenValid(4), List.of());
        slow.onFetch = () -> clock.advance(Duration.ofMillis(100)); // the CA takes 100 ms to answer

        poller.await(slow, "order", EnumSet.of(Status.VALID));

        // 125, 250, 375 ms after the start: the third answer ends the flat phase
        assertThat(sleeps).containsExactly(25L, 25L, 25L, 38L, 56L);
    }

    @Test
    void aWaitNeverPollsMoreThanItsCapEvenWithALongerTimeout() {
        var patient = new Poller(clock, Duration.ofHours(1), duration -> clock.advance(duration));
        var resource = new ScriptedResource(List.of(), List.of());

        assertThatThrownBy(() -> patient.await(resource, "order", EnumSet.of(Status.VALID)))
                .isInstanceOf(AcmeException.class)
                .hasMessageStartingWith("order still pending after 120 polls (");
        assertThat(resource.fetches).isEqualTo(Poller.MAX_POLLS_PER_WAIT);
    }

    @Test
    void theDefaultTimeoutAloneKeepsAWaitUnderTheCap() {
        var standard = new Poller(clock, AcmeIssuer.WAIT_TIMEOUT, duration -> clock.advance(duration));
        var resource = new ScriptedResource(List.of(), List.of());

        assertThatThrownBy(() -> standard.await(resource, "order", EnumSet.of(Status.VALID)))
                .hasMessageStartingWith("order still pending after 90 s (");
        assertThat(resource.fetches).as("the bound stated in Poller's javadoc").isBetween(100, 110);
    }

    @Test
    void concurrentWaitsSharePollsAtFiftyASecond() throws Exception {
        // real time: ten orders from a burst of new names, five fetches each; unpaced they would be done in 125 ms
        var shared = new Poller(Clock.systemUTC(), Duration.ofSeconds(10));
        var pool = Executors.newFixedThreadPool(10);
        var resources = new ArrayList<ScriptedResource>();
        try {
            long start = System.nanoTime();
            var waits = new ArrayList<Future<Status>>();
            for (int i = 0; i < 10; i++) {
                var resource = new ScriptedResource(pendingThenValid(4), List.of());
                resources.add(resource);
                waits.add(pool.submit(() -> shared.await(resource, "order", EnumSet.of(Status.VALID))));
            }
            for (Future<Status> wait : waits) {
                assertThat(wait.get(10, TimeUnit.SECONDS)).isEqualTo(Status.VALID);
            }
            long millis = (System.nanoTime() - start) / 1_000_000;

            // 50 fetches: 10 from the burst, the other 40 at 50 a second
            assertThat(resources)
                    .allSatisfy(resource -> assertThat(resource.fetches).isEqualTo(5));
            assertThat(millis).isGreaterThanOrEqualTo(40 * 1000 / Poller.POLLS_PER_SECOND - 20);
        } finally {
            pool.shutdownNow();
        }
    }

    private static List<Status> pendingThenValid(int pending) {
        var statuses = new ArrayList<Status>();
        for (int i = 0; i < pending; i++) {
            statuses.add(Status.PROCESSING);
        }
        statuses.add(Status.VALID);
        return statuses;
    }

    @Test
    void aResourceAlreadyFinalIsNotFetched() throws Exception {
        var resource = new ScriptedResource(List.of(), List.of());

        assertThat(poller.await(resource, "challenge", EnumSet.of(Status.PENDING)))
                .isEqualTo(Status.PENDING);
        assertThat(resource.fetches).isZero();
    }

    @Test
    void retryAfterFromTheCaIsHonouredWhenLaterThanTheOwnDelay() throws Exception {
        Instant retryAfter = clock.instant().plusSeconds(3);
        var resource = new ScriptedResource(List.of(Status.PROCESSING, Status.VALID), List.of(Optional.of(retryAfter)));

        poller.await(resource, "order", EnumSet.of(Status.VALID));

        assertThat(sleeps).hasSize(2);
        assertThat(sleeps.get(0)).isEqualTo(25L);
        assertThat(clock.instant()).isEqualTo(retryAfter);
    }

    @Test
    void givesUpWithTheStatusWhenTheTimeoutWouldPass() {
        var resource = new ScriptedResource(List.of(), List.of());

        assertThatThrownBy(() -> poller.await(resource, "order for links.shop.test", EnumSet.of(Status.VALID)))
                .isInstanceOf(AcmeException.class)
                .hasMessageStartingWith("order for links.shop.test still pending after 10 s (");
        assertThat(sleeps.stream().mapToLong(Long::longValue).sum()).isLessThanOrEqualTo(10_000L);
    }
}
