package io.clicktls;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The keys another node changed, as the storage's change feed reports them, followed one task at a time: a burst
 * (another node's {@code storage copy}: thousands of keys) takes one place in the executor's queue rather than one per
 * key, and a key reported again before it was followed is followed once. A key reported while the executor refuses
 * work stays pending and is followed by the next task that runs.
 *
 * <p>Thread-safe. {@link #accept} never blocks (it runs on the change feed's thread); {@code follow} runs on
 * {@code executor}, one key at a time.
 */
final class ChangedKeys implements Consumer<String> {

    private static final Logger log = LoggerFactory.getLogger(ChangedKeys.class);

    private final Set<String> pending = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private final Consumer<String> follow;
    private final Executor executor;

    ChangedKeys(Consumer<String> follow, Executor executor) {
        this.follow = follow;
        this.executor = executor;
    }

    @Override
    public void accept(String key) {
        pending.add(key);
        if (scheduled.compareAndSet(false, true)) {
            try {
                executor.execute(this::drain);
            } catch (RejectedExecutionException e) {
                scheduled.set(false); // the next key tries again, and that task follows this one too
                log.warn("cannot follow changes made elsewhere now: the executor is full");
            }
        }
    }

    /** Follows every pending key; one reported meanwhile is followed here or by the task it schedules. */
    private void drain() {
        scheduled.set(false);
        for (String key : pending) {
            if (pending.remove(key)) {
                follow.accept(key);
            }
        }
    }
}
