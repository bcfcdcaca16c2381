package io.clicktls.certificates;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.clicktls.metrics.Metrics;
import io.clicktls.storage.Storage;
import io.clicktls.storage.StorageKeys;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Per-name issuance failures and the backoff they impose, kept in {@link Storage} under
 * {@code state/issuance/<name>.json} so that every node of a cluster holds back alike, with a copy in memory.
 *
 * <p>After a failure the next attempt waits until the CA's Retry-After when it gave one (rate limits, CA
 * unreachable), else 1 minute doubling per consecutive failure up to 6 hours. Failures without a Retry-After (the
 * CA refused, a validation failed) also count toward Let's Encrypt's limit of 5 failed validations per name per
 * hour: a sixth is never tried within the hour of the first. A success clears the state.
 *
 * <p>The memory copy, negative answers included, is trusted for {@link #REREAD_AFTER} and then read again, so that
 * another node's failure or success shows here within that time.
 *
 * <p>Threading: {@link #heldBack} reads memory only and may run on an event loop. {@link #lastFailure},
 * {@link #recordFailure} and {@link #clear} do storage I/O on a memory miss: call them from the blocking executor.
 * Thread-safe.
 */
public final class IssuanceFailures {

    public static final Duration FIRST_BACKOFF = Duration.ofMinutes(1);
    public static final Duration MAX_BACKOFF = Duration.ofHours(6);
    /** Let's Encrypt: failed validations allowed per account, host name and hour. */
    static final int FAILED_VALIDATIONS_PER_WINDOW = 5;
    /** An hour, and a minute to spare for the difference between our clock and the CA's. */
    static final Duration FAILED_VALIDATION_WINDOW = Duration.ofMinutes(61);
    /** How long memory trusts what it read or wrote before reading storage again. */
    public static final Duration REREAD_AFTER = Duration.ofMinutes(1);

    private static final Logger log = LoggerFactory.getLogger(IssuanceFailures.class);
    private static final ObjectMapper JSON =
            new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /** The stored form. {@code counted}: recent failures that count toward the hourly validation limit. */
    record Stored(
            @JsonProperty("name") String name,
            @JsonProperty("message") String message,
            @JsonProperty("at") String at,
            @JsonProperty("failures") int failures,
            @JsonProperty("retry_at") String retryAt,
            @JsonProperty("counted") List<String> counted) {}

    /** What memory holds for a name; {@link #NONE} when it has no failure. */
    private record State(IssuanceFailure failure, List<Instant> counted) {
        static final State NONE = new State(null, List.of());
    }

    private final Storage storage;
    private final Clock clock;
    private final Cache<String, State> memory;

    /** Exposes the memory cache as {@code cache_*{cache="issuance_failures"}}. */
    public void monitor(Metrics metrics) {
        metrics.cache("issuance_failures", memory);
    }

    public IssuanceFailures(Storage storage, Clock clock) {
        this.storage = storage;
        this.clock = clock;
        this.memory = Caffeine.newBuilder()
                .maximumSize(100_000)
                .recordStats()
                .expireAfterWrite(REREAD_AFTER)
                .ticker(() -> clock.millis() * 1_000_000L) // tests move the clock; so does the cache
                .executor(Runnable::run)
                .build();
    }

    /**
     * The failure holding {@code name} back at {@code now}, if memory knows of one. Memory only: no I/O, no
     * allocation when there is none.
     */
    public IssuanceFailure heldBack(String name, Instant now) {
        State state = memory.getIfPresent(name);
        return state != null && state.failure() != null && state.failure().holdsBackAt(now) ? state.failure() : null;
    }

    /** The last failure for {@code name} since its last success. Blocking on a memory miss (one storage read). */
    public Optional<IssuanceFailure> lastFailure(String name) {
        return Optional.ofNullable(current(name).failure());
    }

    /**
     * As {@link #lastFailure}, from storage whatever memory holds: another node may have just recorded a failure.
     * Blocking (one storage read).
     */
    public Optional<IssuanceFailure> reread(String name) {
        memory.invalidate(name);
        return lastFailure(name);
    }

    /**
     * Records a failed attempt now and returns the resulting state, with the time the next attempt is allowed.
     * A storage failure is logged: memory still holds the name back on this node. Blocking.
     */
    public synchronized IssuanceFailure recordFailure(String name, Throwable error) {
        Instant now = clock.instant();
        State previous = current(name);
        int failures = previous.failure() == null ? 1 : previous.failure().failures() + 1;
        List<Instant> counted = new ArrayList<>();
        for (Instant at : previous.counted()) {
            if (at.isAfter(now.minus(FAILED_VALIDATION_WINDOW))) {
                counted.add(at);
            }
        }
        Instant retryAfter = error instanceof IssuanceException issuance ? issuance.retryAfter() : null;
        Instant retryAt;
        if (retryAfter != null) {
            retryAt = retryAfter.isAfter(now) ? retryAfter : now;
        } else {
            retryAt = now.plus(backoff(failures));
            counted.add(now);
            while (counted.size() > FAILED_VALIDATIONS_PER_WINDOW) {
                counted.remove(0);
            }
            if (counted.size() == FAILED_VALIDATIONS_PER_WINDOW) {
                // the next failure would be the sixth within the window that began with the oldest of these
                Instant windowEnds = counted.get(0).plus(FAILED_VALIDATION_WINDOW);
                if (windowEnds.isAfter(retryAt)) {
                    retryAt = windowEnds;
                }
            }
        }
        String message = error.getMessage() == null ? error.toString() : error.getMessage();
        IssuanceFailure failure = new IssuanceFailure(message, now, failures, retryAt);
        State state = new State(failure, List.copyOf(counted));
        memory.put(name, state);
        if (StorageKeys.isSafeName(name)) {
            try {
                storage.store(
                        StorageKeys.issuanceState(name),
                        JSON.writerWithDefaultPrettyPrinter()
                                .writeValueAsBytes(new Stored(
                                        name,
                                        message,
                                        now.toString(),
                                        failures,
                                        retryAt.toString(),
                                        counted.stream().map(Instant::toString).toList())));
            } catch (IOException | RuntimeException e) {
                log.warn("cannot store the issuance failure of {}: {}", name, e.toString());
            }
        }
        return failure;
    }

    /** Forgets the failures of {@code name} after a success. Blocking unless memory knows there are none. */
    public synchronized void clear(String name) {
        State state = memory.getIfPresent(name);
        memory.put(name, State.NONE);
        if (state == State.NONE || !StorageKeys.isSafeName(name)) {
            return;
        }
        try {
            storage.delete(StorageKeys.issuanceState(name));
        } catch (IOException e) {
            log.warn("cannot delete the issuance failure of {}: {}", name, e.toString());
        }
    }

    /**
     * Forgets what memory holds for {@code name}, after another node sharing the storage recorded or cleared a
     * failure of it: the next check reads storage. Memory only; any thread.
     */
    public void changedElsewhere(String name) {
        memory.invalidate(name);
    }

    /** The wait after {@code failures} consecutive failures without a Retry-After. */
    public static Duration backoff(int failures) {
        Duration wait = FIRST_BACKOFF;
        for (int i = 1; i < failures && wait.compareTo(MAX_BACKOFF) < 0; i++) {
            wait = wait.multipliedBy(2);
        }
        return wait.compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : wait;
    }

    private State current(String name) {
        State state = memory.getIfPresent(name);
        if (state == null) {
            state = read(name);
            memory.put(name, state);
        }
        return state;
    }

    private State read(String name) {
        if (!StorageKeys.isSafeName(name)) {
            return State.NONE;
        }
        try {
            Optional<byte[]> bytes = storage.load(StorageKeys.issuanceState(name));
            if (bytes.isEmpty()) {
                return State.NONE;
            }
            Stored stored = JSON.readValue(bytes.get(), Stored.class);
            List<Instant> counted = stored.counted() == null
                    ? List.of()
                    : stored.counted().stream().map(Instant::parse).toList();
            return new State(
                    new IssuanceFailure(
                            stored.message(),
                            Instant.parse(stored.at()),
                            stored.failures(),
                            Instant.parse(stored.retryAt())),
                    counted);
        } catch (IOException | RuntimeException e) {
            // unreadable state must not stop issuance for ever: treat it as none
            log.warn("ignoring unreadable issuance state of {}: {}", name, e.toString());
            return State.NONE;
        }
    }
}
