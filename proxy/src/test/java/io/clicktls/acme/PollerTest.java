package io.clicktls.acme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.shredzone.acme4j.PollableResource;
import org.shredzone.acme4j.Status;
import org.shredzone.acme4j.exception.AcmeException;

class PollerTest {

    /** A clock the sleeper moves forward. */
    private static final class TestClock extends Clock {
        Instant now = Instant.parse("2026-11-25T12:00:00Z");

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }
    }

    /** Answers each fetch with the next status and Retry-After. */
    private static final class ScriptedResource implements PollableResource {
        private Status status = Status.PENDING;
        private final Deque<Status> statuses;
        private final Deque<Optional<Instant>> retryAfters;
        int fetches;

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
            fetches++;
            status = statuses.isEmpty() ? status : statuses.poll();
            return retryAfters.isEmpty() ? Optional.empty() : retryAfters.poll();
        }
    }

    private final TestClock clock = new TestClock();
    private final List<Long> sleeps = new ArrayList<>();
    private final Poller poller = new Poller(clock, Duration.ofSeconds(10), duration -> {
        sleeps.add(duration.toMillis());
        clock.now = clock.now.plus(duration);
    });

    @Test
    void pollsFastFirstThenBacksOffByHalfUpToOneSecond() throws Exception {
        var statuses = new ArrayList<Status>();
        for (int i = 0; i < 11; i++) {
            statuses.add(Status.PROCESSING);
        }
        statuses.add(Status.VALID);
        var resource = new ScriptedResource(statuses, List.of());

        Status status = poller.await(resource, "order", EnumSet.of(Status.VALID, Status.INVALID));

        assertThat(status).isEqualTo(Status.VALID);
        assertThat(sleeps).containsExactly(20L, 30L, 45L, 68L, 102L, 153L, 230L, 345L, 518L, 777L, 1000L, 1000L);
    }

    @Test
    void aResourceAlreadyFinalIsNotFetched() throws Exception {
        var resource = new ScriptedResource(List.of(), List.of());

        assertThat(poller.await(resource, "challenge", EnumSet.of(Status.PENDING))).isEqualTo(Status.PENDING);
        assertThat(resource.fetches).isZero();
    }

    @Test
    void retryAfterFromTheCaIsHonouredWhenLaterThanTheOwnDelay() throws Exception {
        Instant retryAfter = clock.now.plusSeconds(3);
        var resource = new ScriptedResource(List.of(Status.PROCESSING, Status.VALID),
                List.of(Optional.of(retryAfter)));

        poller.await(resource, "order", EnumSet.of(Status.VALID));

        assertThat(sleeps).hasSize(2);
        assertThat(sleeps.get(0)).isEqualTo(20L);
        assertThat(clock.now).isEqualTo(retryAfter);
    }

    @Test
    void givesUpWithTheStatusWhenTheTimeoutWouldPass() {
        var resource = new ScriptedResource(List.of(), List.of());

        assertThatThrownBy(() -> poller.await(resource, "order for links.shop.test", EnumSet.of(Status.VALID)))
                .isInstanceOf(AcmeException.class)
                .hasMessage("order for links.shop.test still pending after 10 s");
        assertThat(sleeps.stream().mapToLong(Long::longValue).sum()).isLessThanOrEqualTo(10_000L);
    }
}
