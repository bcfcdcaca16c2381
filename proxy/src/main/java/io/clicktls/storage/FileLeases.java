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
 * drops the OS lock of a process that dies, so a guard can never be stale. The file also names its holder (pid and
 * host): a lease whose holder was a process of this host that is gone (killed, crashed) is free at once, so that a
 * node restarted after {@code kill -9} does not wait for the lease of its former self to run out.
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

    /** This process, as a lease file names its holder. */
    private static final long PID = ProcessHandle.current().pid();

    private static final String HOST = hostName();

    /**
     * The token and expiry a lease file holds ({@code expiresAtMillis} 0 once released), and its holder ({@code pid}
     * 0 when not known).
     */
    private record State(long token, long expiresAtMillis, long pid, String host) {
        static final State NONE = new State(0, 0, 0, "");

        boolean heldAt(long millis) {
            return expiresAtMillis > millis && !holderGone();
        }

        /** Whether the holder was another process of this host that no longer runs. */
        private boolean holderGone() {
            return pid > 0
                    && pid != PID
                    && host.equals(HOST)
                    && ProcessHandle.of(pid).map(process -> !process.isAlive()).orElse(true);
        }

        /** The token of the current holder, or -1 when released. */
        long current() {
            return expiresAtMillis == 0 ? -1 : token;
        }
    }

    /** A state written by this process. */
    private static State held(long token, long expiresAtMillis) {
        return new State(token, expiresAtMillis, PID, HOST);
    }

    private static String hostName() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            return "localhost";
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
            write(name, held(token, now + duration.toMillis()));
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
        String[] fields = content.split(" ");
        try {
            return new State(
                    Long.parseLong(fields[0]),
                    Long.parseLong(fields[1]),
                    fields.length > 3 ? Long.parseLong(fields[2]) : 0,
                    fields.length > 3 ? fields[3] : "");
        } catch (RuntimeException e) {
            throw new IOException("lease file " + file(name) + " is unreadable: " + content, e);
        }
    }

    private void write(String name, State state) throws IOException {
        String content = state.token() + " " + state.expiresAtMillis() + " " + PID + " " + HOST + "\n";
        storage.writeInternal(file(name), content.getBytes(StandardCharsets.UTF_8));
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
                write(name(), held(token(), clock.millis() + duration.toMillis()));
                return true;
            });
        }

        @Override
        public void close() throws IOException {
            guarded(name(), state -> {
                if (state.current() == token()) {
                    write(name(), held(token(), 0));
                }
                return null;
            });
        }
    }
}
