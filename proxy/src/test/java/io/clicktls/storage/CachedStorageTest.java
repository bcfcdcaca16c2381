package io.clicktls.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.testing.ForwardingStorage;
import io.clicktls.testing.InMemoryStorage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CachedStorageTest {

    private static final String CHAIN = "certificates/links.shop.test/chain.pem";
    private static final String KEY = "certificates/links.shop.test/key.pem";

    @TempDir
    Path dir;

    private final InMemoryStorage database = new InMemoryStorage();
    private final Reachable backend = new Reachable(database);
    private CachedStorage cached;

    /** The shared backend, which a test can make unreachable as a stopped database is. */
    private static final class Reachable extends ForwardingStorage {
        volatile boolean down;

        Reachable(Storage delegate) {
            super(delegate);
        }

        private void check(String key) throws StorageUnavailableException {
            if (down) {
                throw new StorageUnavailableException("cannot reach the database for " + key, null);
            }
        }

        @Override
        public void store(String key, byte[] value) throws IOException {
            check(key);
            super.store(key, value);
        }

        @Override
        public Optional<byte[]> load(String key) throws IOException {
            check(key);
            return super.load(key);
        }

        @Override
        public boolean delete(String key) throws IOException {
            check(key);
            return super.delete(key);
        }

        @Override
        public List<String> list(String prefix) throws IOException {
            check(prefix);
            return super.list(prefix);
        }

        @Override
        public Lock lock(String name, Duration lease) throws IOException, InterruptedException {
            check(name);
            return super.lock(name, lease);
        }
    }

    /** Seals by reversing the bytes: enough to see that the copy holds the sealed form and reads back the plain one. */
    private static final CachedStorage.Sealing REVERSED = new CachedStorage.Sealing() {
        @Override
        public byte[] seal(String key, byte[] value) {
            return StorageKeys.isPrivateKey(key) ? reversed(value) : value;
        }

        @Override
        public byte[] open(String key, byte[] stored) {
            return StorageKeys.isPrivateKey(key) ? reversed(stored) : stored;
        }
    };

    @BeforeEach
    void open() throws IOException {
        cached = new CachedStorage(backend, new FileStorage(dir.resolve("copy")), REVERSED, Runnable::run);
    }

    @Test
    void whatTheNodeWroteOrReadIsServedFromTheCopyWhileTheBackendIsUnreachable() throws IOException {
        cached.store(CHAIN, bytes("chain"));
        database.store(KEY, bytes("key written by another node"));
        assertThat(cached.load(KEY)).isPresent();

        backend.down = true;

        assertThat(cached.load(CHAIN))
                .hasValueSatisfying(value -> assertThat(text(value)).isEqualTo("chain"));
        assertThat(cached.load(KEY))
                .hasValueSatisfying(value -> assertThat(text(value)).isEqualTo("key written by another node"));
        assertThat(cached.list("certificates/")).containsExactlyInAnyOrder(CHAIN, KEY);
        assertThatThrownBy(() -> cached.load("certificates/never.seen.test/meta.json"))
                .as("a key the copy never held is not known to be absent")
                .isInstanceOf(StorageUnavailableException.class);
        assertThatThrownBy(() -> cached.store("certificates/new.shop.test/chain.pem", bytes("x")))
                .isInstanceOf(StorageUnavailableException.class);
    }

    @Test
    void keysReadTogetherAreCopiedAndReadTogetherFromTheCopyWhileTheBackendIsUnreachable() throws IOException {
        database.store(CHAIN, bytes("chain"));
        database.store(KEY, bytes("key"));
        String absent = "certificates/links.shop.test/meta.json";

        assertThat(cached.loadAll(List.of(CHAIN, KEY, absent))).containsOnlyKeys(CHAIN, KEY);
        backend.down = true;

        Map<String, byte[]> kept = cached.loadAll(List.of(CHAIN, KEY));
        assertThat(text(kept.get(CHAIN))).isEqualTo("chain");
        assertThat(text(kept.get(KEY))).isEqualTo("key");
        assertThatThrownBy(() -> cached.loadAll(List.of(CHAIN, absent)))
                .as("a key the copy never held is not known to be absent")
                .isInstanceOf(StorageUnavailableException.class);
    }

    @Test
    void theCopyingThreadPausesAfterEachKeyWhileACallerWhoseQueueIsFullCopiesAtOnce() throws IOException {
        database.store(CHAIN, bytes("chain"));
        database.store(KEY, bytes("key"));
        String meta = "certificates/links.shop.test/meta.json";
        database.store(meta, bytes("{}"));
        List<Long> pauses = new ArrayList<>();
        AtomicLong nanos = new AtomicLong();
        // each reading of the clock is 1 ms later: every step of the copy is busy 1 ms and owes a 3 ms pause
        CopyPacing quarter = CopyPacing.share(0.25, () -> nanos.addAndGet(1_000_000), pauses::add);
        List<Runnable> queued = new ArrayList<>();
        CachedStorage paced =
                new CachedStorage(backend, new FileStorage(dir.resolve("paced")), REVERSED, queued::add, quarter);

        paced.loadAll(List.of(CHAIN, KEY, meta));

        assertThat(queued).as("one task for the batch").hasSize(1);
        assertThat(pauses).isEmpty();
        queued.get(0).run();
        assertThat(pauses).as("a pause after each key").containsExactly(3_000_000L, 3_000_000L, 3_000_000L);
        assertThat(new FileStorage(dir.resolve("paced")).load(meta)).isPresent();

        pauses.clear();
        CachedStorage full = new CachedStorage(
                backend,
                new FileStorage(dir.resolve("full")),
                REVERSED,
                task -> {
                    throw new RejectedExecutionException("queue full");
                },
                quarter);
        full.loadAll(List.of(CHAIN, KEY, meta));

        assertThat(pauses).as("the caller is waiting: no pauses").isEmpty();
        assertThat(new FileStorage(dir.resolve("full")).load(meta)).isPresent();
    }

    @Test
    void valuesReadBeyondTheBacklogLimitAreNotHeldButReadAgainWhenTheirTurnComes() throws IOException {
        String meta = "certificates/links.shop.test/meta.json";
        database.store(CHAIN, bytes("chain"));
        database.store(KEY, bytes("key"));
        database.store(meta, bytes("{}"));
        List<Runnable> queued = new ArrayList<>();
        Path folder = dir.resolve("bounded");
        CachedStorage bounded =
                new CachedStorage(backend, new FileStorage(folder), REVERSED, queued::add, CopyPacing.flatOut(), 8);

        bounded.loadAll(List.of(CHAIN, KEY));
        assertThat(bounded.backlogBytes()).as("5 + 3 bytes fit the limit").isEqualTo(8);
        bounded.load(meta);
        assertThat(bounded.backlogBytes())
                .as("a value beyond the limit is not held")
                .isEqualTo(8);
        database.store(meta, bytes("{\"newer\": true}"));

        queued.forEach(Runnable::run);

        assertThat(bounded.backlogBytes()).isZero();
        FileStorage copy = new FileStorage(folder);
        assertThat(copy.load(CHAIN))
                .hasValueSatisfying(value -> assertThat(text(value)).isEqualTo("chain"));
        assertThat(copy.load(meta))
                .as("read from the backend again when its turn came")
                .hasValueSatisfying(value -> assertThat(text(value)).isEqualTo("{\"newer\": true}"));
    }

    @Test
    void readsGoToTheBackendWhileItAnswers() throws IOException {
        cached.store(CHAIN, bytes("old"));
        database.store(CHAIN, bytes("renewed by another node"));

        assertThat(text(cached.load(CHAIN).orElseThrow())).isEqualTo("renewed by another node");
        backend.down = true;
        assertThat(text(cached.load(CHAIN).orElseThrow()))
                .as("the copy followed the read")
                .isEqualTo("renewed by another node");
    }

    @Test
    void challengesAreNeitherCopiedNorAnsweredFromTheCopy() throws IOException {
        String token = StorageKeys.http01Challenge("token-1");
        cached.store(token, bytes("authorization"));
        assertThat(cached.load(token)).isPresent();
        assertThat(dir.resolve("copy/challenges")).doesNotExist();

        backend.down = true;
        assertThatThrownBy(() -> cached.load(token)).isInstanceOf(StorageUnavailableException.class);
        assertThatThrownBy(() -> cached.list(StorageKeys.HTTP_01_CHALLENGES))
                .isInstanceOf(StorageUnavailableException.class);
    }

    @Test
    void whatIsDeletedInTheBackendLeavesTheCopy() throws IOException {
        String other = "certificates/other.shop.test/chain.pem";
        cached.store(CHAIN, bytes("chain"));
        cached.store(other, bytes("other"));
        cached.store("cleanup/gone.shop.test", bytes("mark"));

        database.delete(CHAIN); // by another node: this one reads it as gone
        assertThat(cached.load(CHAIN)).isEmpty();
        database.delete(other); // by another node: this one only lists
        assertThat(cached.list("certificates/")).isEmpty();
        cached.delete("cleanup/gone.shop.test");

        assertThat(dir.resolve("copy/" + CHAIN)).doesNotExist();
        assertThat(dir.resolve("copy/" + other)).doesNotExist();
        assertThat(dir.resolve("copy/cleanup/gone.shop.test")).doesNotExist();
        backend.down = true;
        assertThat(cached.list("certificates/")).isEmpty();
    }

    @Test
    void theCopyIsOwnerOnlyAndHoldsPrivateKeysSealed() throws IOException {
        cached.store(KEY, bytes("-----BEGIN PRIVATE KEY-----"));

        Path file = dir.resolve("copy/" + KEY);
        assertThat(Files.readAllBytes(file)).isEqualTo(reversed(bytes("-----BEGIN PRIVATE KEY-----")));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
                .isEqualTo("rw-------");
        for (Path folder = file.getParent(); !folder.equals(dir); folder = folder.getParent()) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(folder)))
                    .as(folder.toString())
                    .isEqualTo("rwx------");
        }
        backend.down = true;
        assertThat(text(cached.load(KEY).orElseThrow())).isEqualTo("-----BEGIN PRIVATE KEY-----");
    }

    @Test
    void aLockWhileTheBackendIsUnreachableIsHeldWithinTheNode() throws Exception {
        backend.down = true;
        Storage.Lock first = cached.lock("ca", Duration.ofMinutes(1));
        Thread second = new Thread(() -> {
            try (Storage.Lock ignored = cached.lock("ca", Duration.ofMinutes(1))) {
                // taken once the first is released
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        second.start();
        second.join(200);
        assertThat(second.isAlive()).as("waits for the first holder").isTrue();
        first.close();
        second.join(10_000);
        assertThat(second.isAlive()).isFalse();
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static String text(byte[] value) {
        return new String(value, StandardCharsets.UTF_8);
    }

    private static byte[] reversed(byte[] value) {
        byte[] reversed = new byte[value.length];
        for (int i = 0; i < value.length; i++) {
            reversed[i] = value[value.length - 1 - i];
        }
        return reversed;
    }
}
