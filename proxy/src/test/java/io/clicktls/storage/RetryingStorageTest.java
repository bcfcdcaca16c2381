package io.clicktls.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.testing.ForwardingStorage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link RetryingStorage} over a real {@link FileStorage} behind a switch that answers like a full disk. Retries are
 * run by the test ({@link RetryingStorage#retry}), not by the timer, so that nothing here depends on timing.
 */
class RetryingStorageTest {

    @TempDir
    Path directory;

    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final List<String> counted = new ArrayList<>();
    private FullDisk disk;
    private RetryingStorage storage;

    /** A file storage that refuses writes and deletes while {@code full}; records what it wrote, in order. */
    private static final class FullDisk extends ForwardingStorage {
        final FileStorage files;
        final List<String> written = new ArrayList<>();
        volatile boolean full;

        FullDisk(FileStorage files) {
            super(files);
            this.files = files;
        }

        @Override
        public void store(String key, byte[] value) throws IOException {
            refuseWhileFull();
            super.store(key, value);
            written.add(key);
        }

        @Override
        public boolean delete(String key) throws IOException {
            refuseWhileFull();
            written.add("delete " + key);
            return super.delete(key);
        }

        private void refuseWhileFull() throws IOException {
            if (full) {
                throw new IOException("No space left on device");
            }
        }
    }

    @BeforeEach
    void create() throws IOException {
        disk = new FullDisk(new FileStorage(directory));
        // scheduled retries go nowhere: the test runs them
        storage = new RetryingStorage(disk, timer, task -> {}, Clock.systemUTC(), counted::add, 1024);
    }

    @AfterEach
    void stopTimer() {
        timer.shutdownNow();
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static String text(Optional<byte[]> value) {
        return value.map(bytes -> new String(bytes, StandardCharsets.UTF_8)).orElse(null);
    }

    @Test
    void writesTheDiskRefusesAreReadFromMemoryAndLandInTheirOrderOnceItTakesWritesAgain() throws Exception {
        disk.full = true;
        storage.store("certificates/a.test/key.pem", bytes("key"));
        storage.store("certificates/a.test/chain.pem", bytes("chain"));
        storage.store("certificates/a.test/meta.json", bytes("meta"));
        storage.store("limits/orders", bytes("1"));

        assertThat(text(storage.load("certificates/a.test/chain.pem"))).isEqualTo("chain");
        assertThat(storage.list("certificates/"))
                .containsExactlyInAnyOrder(
                        "certificates/a.test/key.pem",
                        "certificates/a.test/chain.pem",
                        "certificates/a.test/meta.json");
        assertThat(disk.files.load("certificates/a.test/meta.json")).isEmpty();
        assertThat(storage.notPersisted("certificates/a.test/meta.json")).contains("No space left on device");
        assertThat(storage.pending("certificate")).isEqualTo(3);
        assertThat(storage.pending("rate_limit")).isEqualTo(1);
        assertThat(storage.degraded().orElseThrow())
                .startsWith("storage not writable: 4 items not persisted (certificate 3, rate_limit 1) since ")
                .endsWith(": No space left on device");
        assertThat(counted).containsExactly("certificate", "certificate", "certificate", "rate_limit");

        storage.retry();
        assertThat(disk.written).isEmpty();
        assertThat(storage.pending("certificate")).isEqualTo(3);

        disk.full = false;
        storage.retry();
        assertThat(disk.written)
                .containsExactly(
                        "certificates/a.test/key.pem",
                        "certificates/a.test/chain.pem",
                        "certificates/a.test/meta.json",
                        "limits/orders");
        assertThat(text(disk.files.load("certificates/a.test/meta.json"))).isEqualTo("meta");
        assertThat(storage.degraded()).isEmpty();
        assertThat(storage.notPersisted("certificates/a.test/meta.json")).isEmpty();
        assertThat(storage.pending("certificate")).isZero();
    }

    @Test
    void whileWritesWaitLaterOnesQueueBehindThemEvenWhenTheDiskWouldTakeThem() throws Exception {
        disk.full = true;
        storage.store("certificates/a.test/key.pem", bytes("key"));
        disk.full = false;

        storage.store("certificates/a.test/meta.json", bytes("meta"));
        assertThat(disk.written).isEmpty();

        storage.retry();
        assertThat(disk.written).containsExactly("certificates/a.test/key.pem", "certificates/a.test/meta.json");
        storage.store("certificates/b.test/key.pem", bytes("b"));
        assertThat(disk.written).last().isEqualTo("certificates/b.test/key.pem");
    }

    @Test
    void theNewestWriteOfAWaitingKeyIsTheOneThatLands() throws Exception {
        disk.full = true;
        storage.store("limits/orders", bytes("1"));
        storage.store("limits/orders", bytes("1\n2"));
        assertThat(text(storage.load("limits/orders"))).isEqualTo("1\n2");

        disk.full = false;
        storage.retry();
        assertThat(disk.written).containsExactly("limits/orders");
        assertThat(text(disk.files.load("limits/orders"))).isEqualTo("1\n2");
    }

    @Test
    void aRefusedDeleteHidesTheKeyAtOnceAndIsMadeLater() throws Exception {
        storage.store("state/issuance/a.test", bytes("failed"));
        disk.full = true;

        assertThat(storage.delete("state/issuance/a.test")).isTrue();
        assertThat(storage.load("state/issuance/a.test")).isEmpty();
        assertThat(storage.list("state/")).isEmpty();
        assertThat(disk.files.load("state/issuance/a.test")).isPresent();

        disk.full = false;
        storage.retry();
        assertThat(disk.files.load("state/issuance/a.test")).isEmpty();
        assertThat(storage.degraded()).isEmpty();
    }

    @Test
    void whatWaitsInMemoryIsBoundedAndAWritePastTheBoundFailsAsTheDiskDid() throws Exception {
        disk.full = true;
        storage.store("certificates/a.test/chain.pem", new byte[1000]);

        assertThatThrownBy(() -> storage.store("certificates/b.test/chain.pem", new byte[100]))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("No space left on device")
                .hasMessageContaining("certificates/b.test/chain.pem is not kept");
        assertThat(storage.load("certificates/b.test/chain.pem")).isEmpty();
        assertThat(storage.pending("certificate")).isEqualTo(1);
    }
}
