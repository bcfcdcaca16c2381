package io.clicktls.certificates;

import io.clicktls.config.ConfigSnapshot;
import io.clicktls.storage.CertificateStore;
import io.clicktls.storage.Storage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lets go of the certificates of names no longer allowed: removed from {@code domains}, denied by {@code ask}, DNS
 * now pointing elsewhere. A periodic pass asks {@link IssuancePolicy#stillAllowed} about every stored name:
 * <ul>
 *   <li>a lasting refusal ({@link IssuancePolicy.Decision#definitive()}) marks the name: from then on it is not
 *       renewed ({@link #renewable} is false), and once the refusal has lasted {@code certificates.cleanup.grace} its
 *       certificate is deleted from memory and storage;</li>
 *   <li>an allow clears the mark: the name is renewed as usual again;</li>
 *   <li>"cannot tell now" (the endpoint or DNS did not answer) changes nothing.</li>
 * </ul>
 * Each step is logged. Marks live in {@link Storage} under {@code cleanup/<name>} so that the grace period survives
 * restarts.
 *
 * <p>Threading: the pass runs on the blocking executor and blocks there; {@link #renewable} and {@link #marked} read
 * memory only and may run anywhere. Thread-safe.
 */
public final class CertificateCleanup implements AutoCloseable {

    /** How long a pass waits for one name's decision before leaving it for the next pass. */
    static final Duration DECISION_WAIT = Duration.ofSeconds(30);
    /** Names decided at once: enough to overlap the {@code ask} and DNS round trips, far below their bounds. */
    static final int BATCH = 8;

    private static final Logger log = LoggerFactory.getLogger(CertificateCleanup.class);
    private static final String PREFIX = "cleanup/";

    /** Deletes a name's certificate from memory and storage; blocking. The resolver's {@code forget}. */
    @FunctionalInterface
    public interface Forget {
        void forget(String name) throws IOException;
    }

    /**
     * A name no longer allowed since {@code since}, for {@code reason}.
     *
     * @param deleteAfter when its certificate is deleted unless the name is allowed again
     */
    public record Mark(String name, Instant since, String reason, Instant deleteAfter) {}

    /** What one pass did. */
    public record Pass(int checked, int marked, int cleared, int deleted, int undecided) {}

    private final Supplier<ConfigSnapshot> config;
    private final CertificateStore store;
    private final IssuancePolicy policy;
    private final Forget forget;
    private final Executor blocking;
    private final Clock clock;
    private final Map<String, Mark> marks = new ConcurrentHashMap<>();
    private volatile ScheduledFuture<?> schedule;

    /**
     * @param forget deletes a certificate from memory and storage (the resolver's {@code forget}); blocking
     * @param blocking runs the passes; never an event loop
     */
    public CertificateCleanup(
            Supplier<ConfigSnapshot> config,
            CertificateStore store,
            IssuancePolicy policy,
            Forget forget,
            Executor blocking,
            Clock clock) {
        this.config = config;
        this.store = store;
        this.policy = policy;
        this.forget = forget;
        this.blocking = blocking;
        this.clock = clock;
    }

    /** Reads the marks of earlier runs. Blocking: call once while starting. */
    public void load() throws IOException {
        Storage storage = store.storage();
        for (String key : storage.list(PREFIX)) {
            Optional<byte[]> bytes = storage.load(key);
            if (bytes.isEmpty()) {
                continue;
            }
            String name = key.substring(PREFIX.length());
            String[] fields =
                    new String(bytes.get(), StandardCharsets.UTF_8).strip().split(" ", 2);
            try {
                Instant since = Instant.parse(fields[0]);
                String reason = fields.length > 1 ? fields[1] : "unknown";
                marks.put(name, new Mark(name, since, reason, since.plus(grace())));
            } catch (RuntimeException e) {
                log.warn("{}: unreadable cleanup mark, ignored: {}", key, e.toString());
            }
        }
        if (!marks.isEmpty()) {
            log.info("{} certificate(s) of names no longer allowed are waiting out their grace period", marks.size());
        }
    }

    /**
     * Runs a pass every {@code interval}, the first after {@code firstDelay}, on the blocking executor.
     *
     * @param timers only triggers the passes
     */
    public void start(ScheduledExecutorService timers, Duration firstDelay, Duration interval) {
        schedule = timers.scheduleWithFixedDelay(
                () -> {
                    try {
                        blocking.execute(this::runQuietly);
                    } catch (RejectedExecutionException e) {
                        log.warn("certificate cleanup skipped: the blocking executor is full");
                    }
                },
                firstDelay.toMillis(),
                interval.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    /**
     * Whether {@code name} may be renewed: false once a lasting refusal marked it. The predicate to give whoever
     * schedules renewals. Memory only; any thread.
     */
    public boolean renewable(String name) {
        return !marks.containsKey(name);
    }

    /** The mark on {@code name}, if it is no longer allowed (for the status page). Memory only; any thread. */
    public Optional<Mark> marked(String name) {
        return Optional.ofNullable(marks.get(name));
    }

    private void runQuietly() {
        try {
            runOnce();
        } catch (IOException | RuntimeException e) {
            log.warn("certificate cleanup pass failed: {}", e.toString());
        }
    }

    /** One pass over every stored name. Blocking: runs on the calling thread. */
    public Pass runOnce() throws IOException {
        List<String> names = store.names();
        ConfigSnapshot snapshot = config.get();
        int marked = 0;
        int cleared = 0;
        int deleted = 0;
        int undecided = 0;
        for (int from = 0; from < names.size(); from += BATCH) {
            List<String> batch = names.subList(from, Math.min(names.size(), from + BATCH));
            List<CompletableFuture<IssuancePolicy.Decision>> decisions = new ArrayList<>(batch.size());
            for (String name : batch) {
                decisions.add(policy.stillAllowed(name, snapshot));
            }
            for (int i = 0; i < batch.size(); i++) {
                String name = batch.get(i);
                IssuancePolicy.Decision decision = await(decisions.get(i));
                if (decision == null || !decision.allowed() && !decision.definitive()) {
                    undecided++;
                    log.debug(
                            "cleanup: cannot tell now whether {} is still allowed ({})",
                            name,
                            decision == null ? "no answer" : decision.reason());
                } else if (decision.allowed()) {
                    cleared += clear(name) ? 1 : 0;
                } else {
                    switch (refused(name, decision.reason().label())) {
                        case MARKED -> marked++;
                        case DELETED -> deleted++;
                        case WAITING -> {}
                    }
                }
            }
        }
        // Marks of names whose certificate is gone some other way.
        Set<String> stored = new HashSet<>(names);
        for (String name : List.copyOf(marks.keySet())) {
            if (!stored.contains(name)) {
                unmark(name);
            }
        }
        Pass pass = new Pass(names.size(), marked, cleared, deleted, undecided);
        if (marked + cleared + deleted > 0) {
            log.info(
                    "certificate cleanup: {} checked, {} newly not allowed, {} allowed again, {} deleted,"
                            + " {} undecided",
                    pass.checked(),
                    marked,
                    cleared,
                    deleted,
                    undecided);
        }
        return pass;
    }

    private enum Step {
        MARKED,
        WAITING,
        DELETED
    }

    private Step refused(String name, String reason) throws IOException {
        Instant now = clock.instant();
        Mark mark = marks.get(name);
        if (mark == null) {
            mark = new Mark(name, now, reason, now.plus(grace()));
            store.storage().store(PREFIX + name, (now + " " + reason).getBytes(StandardCharsets.UTF_8));
            marks.put(name, mark);
            log.info(
                    "{} is no longer allowed ({}): its certificate is not renewed, and is deleted after {} unless the "
                            + "name is allowed again",
                    name,
                    reason,
                    mark.deleteAfter());
            return Step.MARKED;
        }
        Instant deleteAfter = mark.since().plus(grace());
        if (now.isBefore(deleteAfter)) {
            return Step.WAITING;
        }
        forget.forget(name);
        unmark(name);
        log.info(
                "deleted the certificate of {}: not allowed since {} ({}, now {})",
                name,
                mark.since(),
                mark.reason(),
                reason);
        return Step.DELETED;
    }

    private boolean clear(String name) throws IOException {
        Mark mark = marks.get(name);
        if (mark == null) {
            return false;
        }
        unmark(name);
        log.info(
                "{} is allowed again (refused since {} for {}): its certificate is kept and renewed as usual",
                name,
                mark.since(),
                mark.reason());
        return true;
    }

    private void unmark(String name) throws IOException {
        marks.remove(name);
        store.storage().delete(PREFIX + name);
    }

    private Duration grace() {
        return config.get().config().certificates().cleanup().grace();
    }

    private static IssuancePolicy.Decision await(CompletableFuture<IssuancePolicy.Decision> decision) {
        try {
            return decision.get(DECISION_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    @Override
    public void close() {
        ScheduledFuture<?> running = schedule;
        if (running != null) {
            running.cancel(false);
        }
    }
}
