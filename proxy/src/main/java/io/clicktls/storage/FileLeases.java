package io.clicktls.storage;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leases of a {@link FileStorage}: for each name a file {@code .locks/<name>.lease} holding the current fencing
 * token and until when it is held ({@code 0} once released). The token counts up in that file and is never reset,
 * so a holder paused past its lease finds a larger one there and its {@linkplain #writeFenced fenced write} is
 * refused. Every read-modify-write of a lease file, and every fenced write, runs under an OS lock ({@code fcntl}) on
 * {@code .locks/.<name>.lease-guard} and a lock of this JVM, so processes sharing the folder take turns; the kernel
 * drops the OS lock of a process that dies, so a guard can never be stale. The file also names its holder (pid and
 * host): a lease whose holder was a process of this host that is gone (killed, crashed) is free at once, so that a
 * node restarted after {@code kill -9} does not wait for the lease of its former self to run out, and when it was
 * taken, for {@linkplain #current the listing} operators read.
 *
 * <p>A lease file stays when its lease is given back (its token must go on counting), so the folder holds one per name
 * ever ordered: reading them all to list the few held now would cost most of a second with 100,000. A held lease
 * therefore also has an empty marker {@code .locks/held/<name>}, made when it is taken (and again when renewed: a lease
 * taken by an older version has none), deleted when it is given back, and deleted by a listing that finds its lease
 * run out (its holder died); the listing reads only the files the markers name. A marker that cannot be written is
 * left out: the listing is for operators, and the lease itself is what counts.
 *
 * <p>Blocking (file I/O); thread-safe.
 */
final class FileLeases {

    private static final Logger log = LoggerFactory.getLogger(FileLeases.class);

    /** Guards of this JVM by guard file: OS file locks do not exclude threads of one process. */
    private static final ConcurrentHashMap<Path, Semaphore> GUARDS = new ConcurrentHashMap<>();

    private final FileStorage storage;
    private final Path folder;
    /** The markers of the leases held now: see the class comment. */
    private final Path markers;

    private final Clock clock;

    /** @param folder where the lease files go: the storage's lock folder */
    FileLeases(FileStorage storage, String folder, Clock clock) {
        this.folder = storage.root().resolve(folder);
        this.markers = this.folder.resolve("held");
        this.storage = storage;
        this.clock = clock;
    }

    private static final String LEASE_SUFFIX = ".lease";

    /** This process, as a lease file names its holder. */
    private static final long PID = ProcessHandle.current().pid();

    private static final String HOST = hostName();

    /**
     * The token and expiry a lease file holds ({@code expiresAtMillis} 0 once released), its holder ({@code pid} 0
     * when not known) and when the holder took it ({@code takenAtMillis} 0 when not known: a file of an older version).
     */
    private record State(long token, long expiresAtMillis, long pid, String host, long takenAtMillis) {
        static final State NONE = new State(0, 0, 0, "", 0);

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

        /** The holder as an operator reads it: the process and host the file names. */
        Storage.LeaseHolder holder() {
            return new Storage.LeaseHolder(
                    pid > 0 ? host + " pid " + pid : "unknown",
                    takenAtMillis > 0 ? Instant.ofEpochMilli(takenAtMillis) : null,
                    Instant.ofEpochMilli(expiresAtMillis));
        }
    }

    /** A state written by this process. */
    private static State held(long token, long expiresAtMillis, long takenAtMillis) {
        return new State(token, expiresAtMillis, PID, HOST, takenAtMillis);
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
            write(name, held(token, now + duration.toMillis(), now));
            markHeld(name);
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

    /** Who holds {@code name} now, by its lease file; read without the guard (the file is replaced atomically). */
    Optional<Storage.LeaseHolder> holder(String name) throws IOException {
        State state = read(file(name));
        return state.heldAt(clock.millis()) ? Optional.of(state.holder()) : Optional.empty();
    }

    /**
     * The leases held now whose names start with {@code prefix}, by name, at most {@code limit}: one look at the
     * markers of held leases, reading only their lease files of that prefix (a name's {@code /} after the prefix reads
     * back as {@code _}, as the file name has it). Each file is read without its guard: files are replaced atomically,
     * and a listing for operators may be a moment old. An unreadable file is left out; the marker of a lease found run
     * out is deleted (under the guard, so that a holder taking it meanwhile keeps its marker).
     */
    List<Storage.CurrentLease> current(String prefix, int limit) throws IOException {
        String filePrefix = prefix.replace('/', '_');
        long now = clock.millis();
        TreeMap<String, Storage.LeaseHolder> current = new TreeMap<>();
        List<String> runOut = new ArrayList<>();
        try (DirectoryStream<Path> marked = Files.newDirectoryStream(markers)) {
            for (Path marker : marked) {
                String fileName = marker.getFileName().toString();
                if (!fileName.startsWith(filePrefix)) {
                    continue;
                }
                String name = prefix + fileName.substring(filePrefix.length());
                State state;
                try {
                    state = read(folder.resolve(fileName + LEASE_SUFFIX));
                } catch (IOException unreadable) {
                    continue;
                }
                if (!state.heldAt(now)) {
                    runOut.add(name);
                    continue;
                }
                current.put(name, state.holder());
                if (current.size() > limit) {
                    current.pollLastEntry();
                }
            }
        } catch (NoSuchFileException noLeasesYet) {
            return List.of();
        }
        for (String name : runOut) {
            guarded(name, state -> {
                if (!state.heldAt(clock.millis())) {
                    Files.deleteIfExists(marker(name));
                }
                return null;
            });
        }
        List<Storage.CurrentLease> leases = new ArrayList<>(current.size());
        current.forEach((name, holder) -> leases.add(new Storage.CurrentLease(name, holder)));
        return leases;
    }

    /** Marks {@code name}'s lease as held, for {@link #current}; under the guard. A failure only costs the listing. */
    private void markHeld(String name) {
        Path marker = marker(name);
        try {
            if (!Files.exists(marker)) {
                storage.createFolders(markers);
                Files.createFile(marker);
            }
        } catch (FileAlreadyExistsException alreadyMarked) {
            // made by the holder before us: what we wanted
        } catch (IOException e) {
            log.debug("cannot mark lease {} as held for the listing: {}", name, e.toString());
        }
    }

    private Path marker(String name) {
        return markers.resolve(fileName(name));
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
                return work.run(read(file(name)));
            }
        } finally {
            local.release();
        }
    }

    private static State read(Path file) throws IOException {
        String content;
        try {
            content = Files.readString(file, StandardCharsets.UTF_8).trim();
        } catch (NoSuchFileException e) {
            return State.NONE;
        }
        String[] fields = content.split(" ");
        try {
            return new State(
                    Long.parseLong(fields[0]),
                    Long.parseLong(fields[1]),
                    fields.length > 3 ? Long.parseLong(fields[2]) : 0,
                    fields.length > 3 ? fields[3] : "",
                    fields.length > 4 ? Long.parseLong(fields[4]) : 0);
        } catch (RuntimeException e) {
            throw new IOException("lease file " + file + " is unreadable: " + content, e);
        }
    }

    /** {@code token expiresAt pid host takenAt}: readers of older versions read the first four fields. */
    private void write(String name, State state) throws IOException {
        String content = state.token() + " " + state.expiresAtMillis() + " " + PID + " " + HOST + " "
                + state.takenAtMillis() + "\n";
        storage.writeInternal(file(name), content.getBytes(StandardCharsets.UTF_8));
    }

    private Path file(String name) {
        return folder.resolve(fileName(name) + LEASE_SUFFIX);
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
                write(name(), held(token(), clock.millis() + duration.toMillis(), state.takenAtMillis()));
                markHeld(name());
                return true;
            });
        }

        @Override
        public void close() throws IOException {
            guarded(name(), state -> {
                if (state.current() == token()) {
                    write(name(), held(token(), 0, state.takenAtMillis()));
                    Files.deleteIfExists(marker(name()));
                }
                return null;
            });
        }
    }
}
