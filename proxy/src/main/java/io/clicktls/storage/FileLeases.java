package io.clicktls.storage;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;

/**
 * The leases of a {@link FileStorage}: for each name a file {@code .locks/<name>.lease} holding the current fencing
 * token and until when it is held ({@code 0} once released). The token counts up in that file and is never reset,
 * so a holder paused past its lease finds a larger one there and its {@linkplain #writeFenced fenced write} is
 * refused. Every read-modify-write of a lease file, and every fenced write, runs under an OS lock ({@code fcntl}) on
 * {@code .locks/.<name>.lease-guard} and a lock of this JVM, so processes sharing the folder take turns; the kernel
 * drops the OS lock of a process that dies, so a guard can never be stale.
 *
 * <p>Blocking (file I/O); thread-safe.
 */
final class FileLeases {

    /** Guards of this JVM by guard file: OS file locks do not exclude threads of one process. */
    private static final ConcurrentHashMap<Path, Semaphore> GUARDS = new ConcurrentHashMap<>();

    private final FileStorage storage;
    private final Path folder;
    private final Clock clock;

    /** @param folder where the lease files go: the storage's lock folder */
    FileLeases(FileStorage storage, String folder, Clock clock) {
        this.folder = storage.root().resolve(folder);
        this.storage = storage;
        this.clock = clock;
    }

    /** The token and expiry a lease file holds; {@code expiresAtMillis} is 0 once released. */
    private record State(long token, long expiresAtMillis) {
        static final State NONE = new State(0, 0);

        boolean heldAt(long millis) {
            return expiresAtMillis > millis;
        }

        /** The token of the current holder, or -1 when released. */
        long current() {
            return expiresAtMillis == 0 ? -1 : token;
        }
    }

    @FunctionalInterface
    private interface GuardedWork<T> {
        T run(State state) throws IOException;
    }

    Optional<Storage.Lease> tryLease(String name, Duration duration) throws IOException {
        requirePositive(name, duration);
        return guarded(name, state -> {
            long now = clock.millis();
            if (state.heldAt(now)) {
                return Optional.empty();
            }
            long token = state.token() + 1;
            write(name, new State(token, now + duration.toMillis()));
            return Optional.of(new FileLease(name, token));
        });
    }

    void writeFenced(Storage.Lease lease, Map<String, byte[]> values, Collection<String> deletions) throws IOException {
        if (!(lease instanceof FileLease own) || own.leases() != this) {
            throw new IllegalArgumentException(lease + " was not taken from this storage");
        }
        guarded(lease.name(), state -> {
            if (state.current() != lease.token()) {
                throw new LeaseLostException(lease.name(), lease.token(), state.current());
            }
            for (Map.Entry<String, byte[]> value : values.entrySet()) {
                storage.store(value.getKey(), value.getValue());
            }
            for (String key : deletions) {
                storage.delete(key);
            }
            return null;
        });
    }

    private <T> T guarded(String name, GuardedWork<T> work) throws IOException {
        Path guard = folder.resolve("." + fileName(name) + ".lease-guard");
        Semaphore local = GUARDS.computeIfAbsent(guard, ignored -> new Semaphore(1));
        try {
            local.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for lease " + name, e);
        }
        try {
            storage.createFolders(folder);
            try (FileChannel channel = FileChannel.open(guard, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                    java.nio.channels.FileLock ignored = channel.lock()) {
                return work.run(read(name));
            }
        } finally {
            local.release();
        }
    }

    private State read(String name) throws IOException {
        String content;
        try {
            content = Files.readString(file(name), StandardCharsets.UTF_8).trim();
        } catch (NoSuchFileException e) {
            return State.NONE;
        }
        int space = content.indexOf(' ');
        try {
            return new State(Long.parseLong(content.substring(0, space)), Long.parseLong(content.substring(space + 1)));
        } catch (RuntimeException e) {
            throw new IOException("lease file " + file(name) + " is unreadable: " + content, e);
        }
    }

    private void write(String name, State state) throws IOException {
        storage.writeInternal(
                file(name), (state.token() + " " + state.expiresAtMillis() + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private Path file(String name) {
        return folder.resolve(fileName(name) + ".lease");
    }

    private static String fileName(String name) {
        FileStorage.validate(name);
        return name.replace('/', '_');
    }

    private static void requirePositive(String name, Duration duration) {
        if (duration.toMillis() < 1) {
            throw new IllegalArgumentException("lease for " + name + ": " + duration + " (expected: positive)");
        }
    }

    private final class FileLease extends NamedLease {

        FileLease(String name, long token) {
            super(name, token);
        }

        FileLeases leases() {
            return FileLeases.this;
        }

        @Override
        public boolean renew(Duration duration) throws IOException {
            requirePositive(name(), duration);
            return guarded(name(), state -> {
                if (state.current() != token()) {
                    return false;
                }
                write(name(), new State(token(), clock.millis() + duration.toMillis()));
                return true;
            });
        }

        @Override
        public void close() throws IOException {
            guarded(name(), state -> {
                if (state.current() == token()) {
                    write(name(), new State(token(), 0));
                }
                return null;
            });
        }
    }
}
