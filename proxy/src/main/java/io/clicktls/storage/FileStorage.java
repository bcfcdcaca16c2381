package io.clicktls.storage;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileStore;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystems;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link Storage} in a directory of the local file system. Each key is a file under the root; a write goes to a
 * temporary file in the same folder, is flushed to disk, renamed over the old file atomically, and the folder is
 * flushed too, so a crash leaves the old value or the new one. Files are {@code 0600} and folders {@code 0700} where
 * the file system is POSIX. Names that start with a dot are kept for temporary and lock files: keys may not use
 * them, which also rules out {@code .} and {@code ..}.
 *
 * <p>Locks are files under {@code .locks/} holding an expiry time; one past its expiry is stale and taken over.
 * They coordinate processes sharing the folder as well as threads. On a file system that refuses the lock file (full
 * or read-only) a lock degrades with a warning to an OS file lock, or to a lock within this process where not even
 * that can be had, instead of failing: a node must start and serve what is stored on a full disk.
 *
 * <p>Blocking: every method does file I/O; call only from the blocking executor. Thread-safe.
 */
public final class FileStorage implements Storage {

    private static final Logger log = LoggerFactory.getLogger(FileStorage.class);
    private static final String LOCK_FOLDER = ".locks";
    private static final long LOCK_POLL_MILLIS = 25;
    private static final SecureRandom RANDOM = new SecureRandom();
    /** Temporary files are {@code .<name>.tmp-<pid>-<random>}: the pid tells whose write it was. */
    private static final String TEMP_MARKER = ".tmp-";

    private static final long PID = ProcessHandle.current().pid();
    private static final String OS_LOCK_SUFFIX = ".oslock";
    /** Less free space than this counts as full: a certificate entry takes a few KiB, a burst of them a few hundred. */
    public static final long LOW_SPACE_BYTES = 1 << 20;
    /** Locks of this JVM by lock file, for {@link #lockWithoutLease}: OS file locks do not exclude threads. */
    private static final ConcurrentHashMap<Path, Semaphore> LOCAL_LOCKS = new ConcurrentHashMap<>();

    private final Path root;
    private final Clock clock;
    private final boolean posix;
    /** Whether writes are flushed to disk ({@code fsync}) before they count as done. */
    private final boolean durable;

    private final FileLeases leases;

    /** Creates the root folder ({@code 0700}) if it is missing. */
    public FileStorage(Path root) throws IOException {
        this(root, Clock.systemUTC());
    }

    /**
     * A folder whose writes are atomic (temporary file and rename) but not flushed to disk: for a copy of data kept
     * elsewhere ({@link CachedStorage}), where two {@code fsync}s per file (ms each) would cost more than a value
     * lost in a crash, which the next read from the source writes again.
     */
    public static FileStorage withoutSync(Path root) throws IOException {
        return new FileStorage(root, Clock.systemUTC(), false);
    }

    /** @param clock decides when a lock's lease has run out */
    public FileStorage(Path root, Clock clock) throws IOException {
        this(root, clock, true);
    }

    private FileStorage(Path root, Clock clock, boolean durable) throws IOException {
        this.durable = durable;
        this.posix = FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
        this.root = root.toAbsolutePath().normalize();
        this.clock = clock;
        this.leases = new FileLeases(this, LOCK_FOLDER, clock);
        createFolders(this.root);
    }

    public Path root() {
        return root;
    }

    /**
     * Why the folder cannot take writes now, by the file system's own account: a read-only mount, no permission, or
     * less than {@link #LOW_SPACE_BYTES} free; empty when it can. A few system calls ({@code statvfs},
     * {@code access}); blocking all the same (a hung network file system), so not on an event loop.
     */
    @Override
    public Optional<String> unwritable() {
        try {
            FileStore store = Files.getFileStore(root);
            if (store.isReadOnly()) {
                return Optional.of("storage is on a read-only file system");
            }
            if (!Files.isWritable(root)) {
                return Optional.of("storage folder is not writable for this process");
            }
            long free = store.getUsableSpace();
            if (free < LOW_SPACE_BYTES) {
                return Optional.of("storage is full: " + free + " bytes free");
            }
            return Optional.empty();
        } catch (IOException e) {
            return Optional.of("storage cannot be checked: " + reason(e));
        }
    }

    /**
     * Deletes the temporary files of writes that a process on this host started and never finished because it died
     * (e.g. {@code kill -9} between writing and renaming). Readers never see them; this only reclaims the space. A
     * temporary file of a live process, or one without a pid, is left alone.
     *
     * @return how many files were deleted
     */
    @Override
    public int sweepAbandonedWrites() throws IOException {
        int[] deleted = {0};
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) throws IOException {
                String name = file.getFileName().toString();
                int marker = name.lastIndexOf(TEMP_MARKER);
                if (name.startsWith(".") && marker > 0 && abandoned(name.substring(marker + TEMP_MARKER.length()))) {
                    if (Files.deleteIfExists(file)) {
                        deleted[0]++;
                        log.info("deleted {}, left by an interrupted write", root.relativize(file));
                    }
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) {
                return FileVisitResult.CONTINUE;
            }
        });
        return deleted[0];
    }

    private static boolean abandoned(String pidAndRandom) {
        int dash = pidAndRandom.indexOf('-');
        if (dash <= 0) {
            return false;
        }
        try {
            long pid = Long.parseLong(pidAndRandom.substring(0, dash));
            return pid != PID
                    && ProcessHandle.of(pid).map(process -> !process.isAlive()).orElse(true);
        } catch (NumberFormatException e) {
            return false;
        }
    }

    @Override
    public String where(String key) {
        return key.endsWith("/")
                ? path(key.substring(0, key.length() - 1)) + File.separator
                : path(key).toString();
    }

    /** Where a key lives on disk; rejects keys that are empty, absolute, or have empty or dot segments. */
    public Path path(String key) {
        validate(key);
        Path path = root.resolve(key).normalize();
        if (!path.startsWith(root) || path.equals(root)) {
            throw new IllegalArgumentException("storage key escapes the root: " + key);
        }
        return path;
    }

    @Override
    public void store(String key, byte[] value) throws IOException {
        Path target = path(key);
        createFolders(target.getParent());
        writeAtomically(target, value);
    }

    @Override
    public Optional<byte[]> load(String key) throws IOException {
        try {
            return Optional.of(Files.readAllBytes(path(key)));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public boolean delete(String key) throws IOException {
        Path path = path(key);
        boolean deleted = Files.deleteIfExists(path);
        if (deleted) {
            removeEmptyFolders(path.getParent());
        }
        return deleted;
    }

    @Override
    public List<String> list(String prefix) throws IOException {
        // Walk only the deepest folder the prefix names in full, not the whole tree.
        int slash = prefix.lastIndexOf('/');
        Path start = slash < 0 ? root : path(prefix.substring(0, slash));
        List<String> keys = new ArrayList<>();
        if (!Files.isDirectory(start)) {
            return keys;
        }
        Files.walkFileTree(start, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) {
                String key = attributes.isRegularFile() ? toKey(root.relativize(file)) : null;
                if (key != null && key.startsWith(prefix)) {
                    keys.add(key);
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                if (e instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE; // a temporary file renamed or deleted meanwhile
                }
                throw e;
            }
        });
        return keys;
    }

    /**
     * {@inheritDoc}
     *
     * <p>When the lock file cannot be written (a full or read-only file system), the lock falls back to
     * {@link #lockWithoutLease}: serving what is stored must not depend on writing a lock file.
     */
    @Override
    public Lock lock(String name, Duration lease) throws IOException, InterruptedException {
        Path file = lockFile(name);
        String token = HexFormat.of().formatHex(randomBytes(16));
        while (true) {
            long expiresAt = clock.millis() + lease.toMillis();
            try {
                createFolders(file.getParent());
                if (tryCreateLock(file, expiresAt + " " + token)) {
                    return new FileLock(file, token);
                }
            } catch (FileAlreadyExistsException e) {
                throw e; // a file where the lock folder should be: not a space problem
            } catch (IOException e) {
                return lockWithoutLease(name, file, lease, e);
            }
            String holder = readLock(file);
            if (holder != null && stale(file, holder, lease)) {
                takeOver(file, holder);
                continue;
            }
            Thread.sleep(LOCK_POLL_MILLIS);
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>Over a lease file under {@code .locks/} whose token counts up (see {@link FileLeases}): for the processes of
     * one host sharing the folder.
     */
    @Override
    public Optional<? extends Lease> tryLease(String name, Duration duration) throws IOException {
        return leases.tryLease(name, duration);
    }

    /** Writes a file that is not a key (under {@code .locks/}) atomically, making its folders. */
    void writeInternal(Path file, byte[] value) throws IOException {
        createFolders(file.getParent());
        writeAtomically(file, value);
    }

    /** The holder its lease file names: a process (pid) of a host sharing this folder. */
    @Override
    public Optional<LeaseHolder> leaseHolder(String name) throws IOException {
        return leases.holder(name);
    }

    /** {@inheritDoc} The values are written one by one, in the map's order, while the lease's guard is held. */
    @Override
    public void writeFenced(Lease lease, Map<String, byte[]> values, Collection<String> deletions) throws IOException {
        leases.writeFenced(lease, values, deletions);
    }

    /**
     * The lock for a file system that refused the lock file ({@code cause}): waits while another process holds a
     * fresh lock file, then holds a lock of this JVM and, where an empty file can still be created or opened (a full
     * disk still has inodes), an OS lock ({@code fcntl}) on {@code .locks/.<name>.oslock}, which the kernel releases
     * when its process dies, so no lease is needed. Where not even that works (read-only), other processes are not
     * kept out; nothing can be written there anyway, which is what the locks guard.
     */
    private Lock lockWithoutLease(String name, Path file, Duration lease, IOException cause)
            throws IOException, InterruptedException {
        while (true) {
            String holder = readLock(file);
            if (holder == null || stale(file, holder, lease)) {
                break;
            }
            Thread.sleep(LOCK_POLL_MILLIS);
        }
        Semaphore local = LOCAL_LOCKS.computeIfAbsent(file, ignored -> new Semaphore(1));
        local.acquire();
        FileChannel channel = null;
        java.nio.channels.FileLock osLock = null;
        try {
            channel = FileChannel.open(
                    file.resolveSibling("." + file.getFileName() + OS_LOCK_SUFFIX),
                    StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE);
            osLock = channel.lock();
            log.warn(
                    "cannot write the storage lock file {} ({}); holding an OS file lock instead",
                    root.relativize(file),
                    reason(cause));
        } catch (IOException e) {
            closeQuietly(channel);
            channel = null;
            log.warn(
                    "cannot write the storage lock file {} ({}) nor take an OS file lock ({}): lock {} is held"
                            + " within this process only",
                    root.relativize(file),
                    reason(cause),
                    reason(e),
                    name);
        } catch (RuntimeException | Error e) {
            closeQuietly(channel);
            local.release();
            throw e;
        }
        FileChannel held = channel;
        java.nio.channels.FileLock heldLock = osLock;
        boolean[] released = {false};
        return () -> {
            synchronized (released) {
                if (released[0]) {
                    return;
                }
                released[0] = true;
            }
            try {
                if (heldLock != null) {
                    heldLock.release();
                }
            } finally {
                closeQuietly(held);
                local.release();
            }
        };
    }

    /** {@inheritDoc} One look at the held leases' marks; holders as {@link #leaseHolder} names them. */
    @Override
    public List<CurrentLease> currentLeases(String prefix, int limit) throws IOException {
        return leases.current(prefix, limit);
    }

    /** The reason of a file-system error without its path, e.g. {@code No space left on device}. */
    static String reason(IOException e) {
        if (e instanceof FileSystemException fs && fs.getReason() != null) {
            return fs.getReason();
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                log.debug("closing a lock file: {}", e.toString());
            }
        }
    }

    private Path lockFile(String name) {
        validate(name);
        return root.resolve(LOCK_FOLDER).resolve(name.replace('/', '_') + ".lock");
    }

    /** Creates the lock file with its content in one step: a hard link of a finished temporary file. */
    private boolean tryCreateLock(Path file, String content) throws IOException {
        byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
        Path temp = writeTemp(file.getParent(), file.getFileName().toString(), bytes);
        try {
            Files.createLink(file, temp);
            syncFolder(file.getParent());
            return true;
        } catch (FileAlreadyExistsException e) {
            return false;
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    private static String readLock(Path file) throws IOException {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    private boolean stale(Path file, String content, Duration lease) throws IOException {
        int space = content.indexOf(' ');
        try {
            return Long.parseLong(space < 0 ? content.trim() : content.substring(0, space)) < clock.millis();
        } catch (NumberFormatException e) {
            // Not written by us; trust its age instead.
            try {
                return Files.getLastModifiedTime(file).toMillis() + lease.toMillis() < clock.millis();
            } catch (NoSuchFileException gone) {
                return false;
            }
        }
    }

    /**
     * Removes a stale lock without removing a fresh one that replaced it meanwhile: move it aside atomically, check
     * that what moved is the stale lock, and put it back otherwise.
     */
    private void takeOver(Path file, String staleContent) throws IOException {
        String suffix = HexFormat.of().formatHex(randomBytes(8));
        Path aside = file.resolveSibling("." + file.getFileName() + ".stale-" + suffix);
        try {
            Files.move(file, aside, StandardCopyOption.ATOMIC_MOVE);
        } catch (NoSuchFileException e) {
            return;
        }
        try {
            String moved = Files.readString(aside, StandardCharsets.UTF_8);
            if (moved.equals(staleContent)) {
                log.warn("took over stale storage lock {} (held until {})", file.getFileName(), staleContent);
            } else {
                try {
                    Files.createLink(file, aside);
                } catch (FileAlreadyExistsException e) {
                    // Someone else holds it now; the holder we moved aside lost it. Leases bound the damage.
                    log.warn("storage lock {} changed hands during a takeover", file.getFileName());
                }
            }
        } finally {
            Files.deleteIfExists(aside);
        }
    }

    private final class FileLock implements Lock {
        private final Path file;
        private final String token;
        private boolean released;

        FileLock(Path file, String token) {
            this.file = file;
            this.token = token;
        }

        @Override
        public synchronized void close() throws IOException {
            if (released) {
                return;
            }
            released = true;
            String content = readLock(file);
            // After our lease ran out another holder may have taken over: leave theirs alone.
            if (content != null && content.endsWith(" " + token)) {
                Files.deleteIfExists(file);
            }
        }
    }

    private void writeAtomically(Path target, byte[] value) throws IOException {
        Path temp = writeTemp(target.getParent(), target.getFileName().toString(), value);
        try {
            try {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("file system cannot rename atomically: " + target, e);
            }
            if (durable) {
                syncFolder(target.getParent());
            }
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    private Path writeTemp(Path folder, String name, byte[] value) throws IOException {
        Path temp = folder.resolve(
                "." + name + TEMP_MARKER + PID + "-" + HexFormat.of().formatHex(randomBytes(8)));
        Set<StandardOpenOption> options = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        try (FileChannel channel =
                posix ? FileChannel.open(temp, options, fileAttribute("rw-------")) : FileChannel.open(temp, options)) {
            ByteBuffer buffer = ByteBuffer.wrap(value);
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
            if (durable) {
                channel.force(true);
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(temp);
            throw e;
        }
        return temp;
    }

    void createFolders(Path folder) throws IOException {
        if (Files.isDirectory(folder)) {
            return;
        }
        Path parent = folder.getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            createFolders(parent);
        }
        try {
            if (posix) {
                Files.createDirectory(folder, fileAttribute("rwx------"));
            } else {
                Files.createDirectory(folder);
            }
        } catch (FileAlreadyExistsException e) {
            if (!Files.isDirectory(folder)) {
                throw e;
            }
        }
    }

    private void removeEmptyFolders(Path folder) {
        for (Path current = folder;
                current != null && current.startsWith(root) && !current.equals(root);
                current = current.getParent()) {
            try {
                Files.delete(current);
            } catch (DirectoryNotEmptyException | NoSuchFileException e) {
                return;
            } catch (IOException e) {
                log.debug("cannot remove empty folder {}", current, e);
                return;
            }
        }
    }

    private static void syncFolder(Path folder) {
        try (FileChannel channel = FileChannel.open(folder, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            // Some file systems cannot open a folder for fsync; the rename itself is still atomic.
            log.debug("cannot fsync folder {}", folder, e);
        }
    }

    private static String toKey(Path relative) {
        StringBuilder key = new StringBuilder();
        for (Path segment : relative) {
            String name = segment.toString();
            if (name.startsWith(".")) {
                return null; // temporary, stale or lock file
            }
            if (key.length() > 0) {
                key.append('/');
            }
            key.append(name);
        }
        return key.toString();
    }

    static void validate(String key) {
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException("empty storage key");
        }
        if (key.startsWith("/") || key.indexOf('\\') >= 0 || key.indexOf('\0') >= 0 || key.indexOf(':') >= 0) {
            throw new IllegalArgumentException("storage key must be a relative slash-separated path: " + key);
        }
        for (String segment : key.split("/", -1)) {
            if (segment.isEmpty() || segment.startsWith(".")) {
                throw new IllegalArgumentException("storage key has an empty or dot segment: " + key);
            }
        }
    }

    private static FileAttribute<Set<PosixFilePermission>> fileAttribute(String permissions) {
        return PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(permissions));
    }

    private static byte[] randomBytes(int count) {
        byte[] bytes = new byte[count];
        RANDOM.nextBytes(bytes);
        return bytes;
    }
}
