package io.clicktls.certificates;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.storage.FileStorage;
import io.clicktls.testing.MutableClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IssuanceFailuresTest {

    private static final Instant T0 = Instant.parse("2026-11-01T00:00:00Z");

    @TempDir
    Path directory;

    private final MutableClock clock = new MutableClock(T0);
    private FileStorage storage;
    private IssuanceFailures failures;

    @BeforeEach
    void setUp() throws Exception {
        storage = new FileStorage(directory, clock);
        failures = new IssuanceFailures(storage, clock);
    }

    @Test
    void aFailureIsKeptWithTheCasWordsItsTimeAndWhenToTryAgain() {
        IssuanceFailure failure = failures.recordFailure(
                "a.test", new IssuanceException("the CA refused a.test: caa: CAA record forbids issuance"));

        assertThat(failure.message()).isEqualTo("the CA refused a.test: caa: CAA record forbids issuance");
        assertThat(failure.at()).isEqualTo(T0);
        assertThat(failure.failures()).isEqualTo(1);
        assertThat(failure.retryAt()).isEqualTo(T0.plus(Duration.ofMinutes(1)));
        assertThat(failures.lastFailure("a.test")).contains(failure);
        assertThat(failures.heldBack("a.test", T0.plusSeconds(59))).isEqualTo(failure);
        assertThat(failures.heldBack("a.test", T0.plusSeconds(60))).isNull();
    }

    @Test
    void consecutiveFailuresDoubleTheWaitUpToSixHours() {
        List<Long> waits = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            IssuanceFailure failure =
                    failures.recordFailure("a.test", new IssuanceException("CA unreachable (no Retry-After)"));
            waits.add(Duration.between(clock.instant(), failure.retryAt()).toMinutes());
            clock.advance(Duration.between(clock.instant(), failure.retryAt()));
        }

        // from the fifth on, the hourly limit on failed validations may lengthen a wait, never shorten it
        assertThat(waits.subList(0, 4)).containsExactly(1L, 2L, 4L, 8L);
        assertThat(waits.subList(5, 12)).containsExactly(32L, 64L, 128L, 256L, 360L, 360L, 360L);
        assertThat(failures.lastFailure("a.test").orElseThrow().failures()).isEqualTo(12);
    }

    @Test
    void neverMoreThanFiveFailedValidationsOfANameWithinAnHour() {
        List<Instant> attempts = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            attempts.add(clock.instant());
            IssuanceFailure failure = failures.recordFailure(
                    "a.test", new IssuanceException("http-01 validation of a.test failed: connection refused"));
            clock.advance(Duration.between(clock.instant(), failure.retryAt()));
        }

        for (Instant start : attempts) {
            long inHour = attempts.stream()
                    .filter(at -> !at.isBefore(start) && at.isBefore(start.plus(Duration.ofHours(1))))
                    .count();
            assertThat(inHour).as("failed attempts in the hour from %s", start).isLessThanOrEqualTo(5);
        }
    }

    @Test
    void theCasRetryAfterIsHonouredAndDoesNotCountAsAFailedValidation() {
        Instant retryAfter = T0.plus(Duration.ofMinutes(45));

        IssuanceFailure limited = failures.recordFailure(
                "a.test", new IssuanceException("rate limited by the CA: too many certificates", null, retryAfter));

        assertThat(limited.retryAt()).isEqualTo(retryAfter);
        for (int i = 0; i < 6; i++) {
            clock.advance(Duration.ofSeconds(30));
            IssuanceFailure unreachable = failures.recordFailure(
                    "a.test",
                    new IssuanceException(
                            "CA unreachable", null, clock.instant().plusSeconds(30)));
            assertThat(unreachable.retryAt()).isEqualTo(clock.instant().plusSeconds(30));
        }
    }

    @Test
    void anotherNodeSeesTheStoredFailureAndASuccessClearsIt() throws Exception {
        IssuanceFailure failure = failures.recordFailure("a.test", new IssuanceException("no"));
        assertThat(directory.resolve("state/issuance/a.test.json")).exists();

        IssuanceFailures otherNode = new IssuanceFailures(storage, clock);
        assertThat(otherNode.lastFailure("a.test")).contains(failure);

        failures.clear("a.test");
        assertThat(failures.lastFailure("a.test")).isEmpty();
        assertThat(Files.exists(directory.resolve("state/issuance/a.test.json")))
                .isFalse();
        clock.advance(IssuanceFailures.REREAD_AFTER);
        assertThat(otherNode.lastFailure("a.test"))
                .as("read again after a minute")
                .isEmpty();
    }

    @Test
    void memoryAloneAnswersForNamesWithoutFailures() throws Exception {
        assertThat(failures.heldBack("never-failed.test", T0)).isNull();
        assertThat(failures.lastFailure("never-failed.test")).isEmpty();

        Files.createDirectories(directory.resolve("state/issuance"));
        Files.writeString(directory.resolve("state/issuance/never-failed.test.json"), "{ broken");

        assertThat(failures.lastFailure("never-failed.test"))
                .as("the negative answer is remembered")
                .isEmpty();
        clock.advance(IssuanceFailures.REREAD_AFTER);
        assertThat(failures.lastFailure("never-failed.test"))
                .as("unreadable state counts as none")
                .isEmpty();
    }

    @Test
    void aFailureRecordedByAnotherNodeHoldsTheNameBackHereOnceToldOfTheChange() {
        IssuanceFailures otherNode = new IssuanceFailures(storage, clock);
        assertThat(failures.lastFailure("a.test")).isEmpty(); // remembered as none for a minute
        otherNode.recordFailure("a.test", new IssuanceException("validation failed"));
        assertThat(failures.heldBack("a.test", T0)).isNull();

        failures.changedElsewhere("a.test");

        assertThat(failures.lastFailure("a.test"))
                .get()
                .extracting(IssuanceFailure::message)
                .isEqualTo("validation failed");
        assertThat(failures.heldBack("a.test", T0)).isNotNull();
    }
}
