package io.clicktls.testing;

import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A single-threaded {@link ScheduledExecutorService} on a manual clock: nothing runs until the test calls
 * {@link #advance}, which moves the clock from task to task. Not thread-safe; one test thread drives it.
 */
public final class ManualScheduledExecutor extends AbstractExecutorService implements ScheduledExecutorService {

    /** The clock this executor moves; hand it to the code under test. */
    public final MutableClock clock;

    private final PriorityQueue<Task> tasks =
            new PriorityQueue<>(Comparator.comparing((Task task) -> task.at).thenComparingLong(task -> task.order));
    private long sequence;

    public ManualScheduledExecutor(Instant start) {
        this.clock = new MutableClock(start);
    }

    public Instant now() {
        return clock.instant();
    }

    /** Runs every task due within {@code duration}, in time order, then leaves the clock at the end. */
    public void advance(Duration duration) {
        Instant end = clock.instant().plus(duration);
        while (!tasks.isEmpty() && !tasks.peek().at.isAfter(end)) {
            Task task = tasks.poll();
            if (task.cancelled) {
                continue;
            }
            if (task.at.isAfter(clock.instant())) {
                clock.set(task.at);
            }
            task.command.run();
            if (task.period != null && !task.cancelled) {
                task.at = clock.instant().plus(task.period);
                task.order = sequence++;
                tasks.add(task);
            } else {
                task.done = true;
            }
        }
        clock.set(end);
    }

    private final class Task implements ScheduledFuture<Object> {
        final Runnable command;
        final Duration period;
        Instant at;
        long order;
        boolean cancelled;
        boolean done;

        Task(Runnable command, Instant at, Duration period) {
            this.command = command;
            this.at = at;
            this.period = period;
            this.order = sequence++;
        }

        @Override
        public long getDelay(TimeUnit unit) {
            return unit.convert(Duration.between(clock.instant(), at));
        }

        @Override
        public int compareTo(Delayed other) {
            return Long.compare(getDelay(TimeUnit.MILLISECONDS), other.getDelay(TimeUnit.MILLISECONDS));
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            boolean wasPending = !cancelled && !done;
            cancelled = true;
            return wasPending;
        }

        @Override
        public boolean isCancelled() {
            return cancelled;
        }

        @Override
        public boolean isDone() {
            return done || cancelled;
        }

        @Override
        public Object get() {
            return null;
        }

        @Override
        public Object get(long timeout, TimeUnit unit) {
            return null;
        }
    }

    private Task add(Runnable command, long delay, TimeUnit unit, Duration period) {
        var task =
                new Task(command, clock.instant().plus(Duration.of(Math.max(0, delay), unit.toChronoUnit())), period);
        tasks.add(task);
        return task;
    }

    @Override
    public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
        return add(command, delay, unit, null);
    }

    @Override
    public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
        throw new UnsupportedOperationException();
    }

    @Override
    public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period, TimeUnit unit) {
        return add(command, initialDelay, unit, Duration.of(period, unit.toChronoUnit()));
    }

    @Override
    public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay, TimeUnit unit) {
        return add(command, initialDelay, unit, Duration.of(delay, unit.toChronoUnit()));
    }

    @Override
    public void execute(Runnable command) {
        add(command, 0, TimeUnit.MILLISECONDS, null);
    }

    @Override
    public void shutdown() {
        tasks.clear();
    }

    @Override
    public List<Runnable> shutdownNow() {
        tasks.clear();
        return List.of();
    }

    @Override
    public boolean isShutdown() {
        return false;
    }

    @Override
    public boolean isTerminated() {
        return false;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) {
        return true;
    }
}
