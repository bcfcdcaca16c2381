package io.clicktls.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class CertificateLoadExecutorTest {

    private final List<Runnable> fallbackTasks = new ArrayList<>();
    private final Executor recordingFallback = fallbackTasks::add;
    private final CountDownLatch release = new CountDownLatch(1);
    private CertificateLoadExecutor loads;

    @AfterEach
    void tearDown() {
        release.countDown();
        if (loads != null) {
            loads.close();
        }
    }

    /** Occupies the executor's only thread until {@link #release} opens. */
    private void occupyTheThread() throws InterruptedException {
        CountDownLatch running = new CountDownLatch(1);
        loads.execute(() -> {
            running.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        assertThat(running.await(5, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void loadsRunOnThreadsOfTheirOwnNotOnTheCallerOrTheFallback() throws Exception {
        loads = CertificateLoadExecutor.create(2, 4, recordingFallback);

        String thread = CompletableFuture.supplyAsync(
                        () -> Thread.currentThread().getName(), loads)
                .get(5, TimeUnit.SECONDS);

        assertThat(thread).startsWith("clicktls-certificate-load-");
        assertThat(fallbackTasks).isEmpty();
        assertThat(loads.fallbacks()).isZero();
    }

    @Test
    void aLoadThatFindsTheQueueFullGoesToTheFallbackExecutor() throws Exception {
        loads = CertificateLoadExecutor.create(1, 1, recordingFallback);
        occupyTheThread();
        Runnable queued = () -> {};
        Runnable overflowing = () -> {};

        loads.execute(queued);
        loads.execute(overflowing);

        assertThat(fallbackTasks).containsExactly(overflowing);
        assertThat(loads.fallbacks()).isEqualTo(1);
    }

    @Test
    void whenTheFallbackIsFullTooExecuteFailsAtOnceInsteadOfWaiting() throws Exception {
        Executor fullFallback = task -> {
            throw new RejectedExecutionException("blocking executor full");
        };
        loads = CertificateLoadExecutor.create(1, 1, fullFallback);
        occupyTheThread();
        loads.execute(() -> {});

        long start = System.nanoTime();
        CompletableFuture<String> refused = new CompletableFuture<>();
        assertThatThrownBy(() -> loads.execute(() -> refused.complete("ran")))
                .isInstanceOf(RejectedExecutionException.class)
                .hasMessageContaining("blocking executor full");

        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(1_000);
        assertThat(refused).isNotDone();
    }

    @Test
    void afterCloseExecuteIsRefusedAndNothingGoesToTheFallback() {
        loads = CertificateLoadExecutor.create(1, 1, recordingFallback);
        loads.close();

        assertThatThrownBy(() -> loads.execute(() -> {}))
                .isInstanceOf(RejectedExecutionException.class)
                .hasMessageContaining("closed");
        assertThat(fallbackTasks).isEmpty();
    }

    @Test
    void sizesAndTheFallbackAreChecked() {
        assertThatThrownBy(() -> CertificateLoadExecutor.create(0, 1, recordingFallback))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> CertificateLoadExecutor.create(1, 0, recordingFallback))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> CertificateLoadExecutor.create(1, 1, null))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
