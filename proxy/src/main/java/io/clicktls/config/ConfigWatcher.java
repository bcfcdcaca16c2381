package io.clicktls.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reloads the config file when it changes and swaps it into a {@link LiveConfig} if it is valid; an invalid file is
 * logged (one WARN line per problem, {@code file:line:column: message}, the first
 * {@value ConfigException#REPORTED_PROBLEMS} of them) and the config in force stays.
 *
 * <p>The {@code domains_file} the config names is watched the same way, and an edit of it alone reloads the config
 * (both files are read again and swapped in together, or neither is).
 *
 * <p>Watches the file's folder rather than the file, because editors and config tools replace a file by renaming
 * a new one over it. Events are debounced (200 ms) so that a file is read once it has been written, and the file
 * is only parsed when its bytes changed. A stat of the file every second backs up the events, which some file
 * systems (network mounts, some container overlays) never send.
 *
 * <p>Everything runs on one daemon thread, {@code clicktls-config-watcher}: the parse, {@link LiveConfig#replace}
 * with its listeners, and the {@link ReloadListener}. None of it runs on an event loop.
 */
public final class ConfigWatcher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ConfigWatcher.class);

    static final String THREAD_NAME = "clicktls-config-watcher";

    /** What became of a change to the file; called on the watcher's thread, must not block for long. */
    public interface ReloadListener {

        /** The file changed, is valid and is now in force (it may mean the same as before). */
        void accepted(ClickTlsConfig config);

        /** The file changed but cannot be used; the config in force stays. {@code problems} is never empty. */
        void rejected(List<ConfigProblem> problems);

        ReloadListener NONE = new ReloadListener() {
            @Override
            public void accepted(ClickTlsConfig config) {}

            @Override
            public void rejected(List<ConfigProblem> problems) {}
        };
    }

    private final Path file;
    private final Path absoluteFile;
    private final Path directory;
    private final LiveConfig live;
    private final ReloadListener listener;
    private final long debounceNanos;
    private final long pollNanos;
    private final boolean useEvents;

    private Thread thread;
    private volatile WatchService watchService;
    private volatile boolean running;
    /** Wakes the thread when it waits without a watch service (an interrupt could break a listener's I/O). */
    private final CountDownLatch stopped = new CountDownLatch(1);

    // confined to the watcher thread after start()
    private byte[] lastDigest;
    private List<FileState> lastState;
    private boolean watchingLink;
    /** The {@code domains_file} the config last read named, absolute, or {@code null}. */
    private Path domainsFile;

    private final Set<Path> watchedDirectories = new HashSet<>();

    /**
     * @param file the config file, as the user named it (problems are reported with this name)
     * @param live receives every valid new config
     * @param listener told of every accepted or rejected change, e.g. to count them
     */
    public ConfigWatcher(Path file, LiveConfig live, ReloadListener listener) {
        this(file, live, listener, Duration.ofMillis(200), Duration.ofSeconds(1), true);
    }

    ConfigWatcher(
            Path file, LiveConfig live, ReloadListener listener, Duration debounce, Duration poll, boolean useEvents) {
        this.file = Objects.requireNonNull(file);
        this.absoluteFile = file.toAbsolutePath().normalize();
        this.directory = absoluteFile.getParent();
        this.live = Objects.requireNonNull(live);
        this.listener = Objects.requireNonNull(listener);
        this.debounceNanos = debounce.toNanos();
        this.pollNanos = poll.toNanos();
        this.useEvents = useEvents;
    }

    /**
     * Starts watching. The file's content at this moment is taken as the one {@code live} was built from, so call
     * this right after loading it. If the folder cannot be watched, the file is still polled every second.
     */
    public synchronized void start() {
        if (thread != null) {
            throw new IllegalStateException("already started");
        }
        domainsFile = live.get().config().domainsFile();
        lastDigest = digestOrNull();
        lastState = states();
        if (useEvents) {
            try {
                watchService = FileSystems.getDefault().newWatchService();
            } catch (IOException | UnsupportedOperationException e) {
                log.warn("cannot watch {} for changes ({}); checking {} every second instead", directory, e, file);
            }
        }
        watchDirectories();
        running = true;
        thread = new Thread(this::run, THREAD_NAME);
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Stops watching and waits up to 2 s for the thread to end; a reload in progress finishes first. May be called
     * from a listener (on the watcher's thread), which then ends after the current reload.
     */
    @Override
    public synchronized void close() {
        running = false;
        closeWatchService();
        stopped.countDown();
        if (thread != null && thread != Thread.currentThread()) {
            try {
                thread.join(2_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void run() {
        long nextPoll = System.nanoTime() + pollNanos;
        boolean pending = false;
        long pendingSince = 0;
        long pendingUntil = 0;
        while (running) {
            try {
                long now = System.nanoTime();
                long wait = nextPoll - now;
                if (pending) {
                    wait = Math.min(wait, pendingUntil - now);
                }
                boolean changed = waitForEvents(Math.max(wait, 0));
                now = System.nanoTime();
                if (changed) {
                    if (!pending) {
                        pending = true;
                        pendingSince = now;
                    }
                    // a file written in many steps is read once it is quiet, but at the latest after 5 debounces
                    pendingUntil = Math.min(now + debounceNanos, pendingSince + 5 * debounceNanos);
                }
                if (!pending && now - nextPoll >= 0) {
                    nextPoll = now + pollNanos;
                    if (!states().equals(lastState)) {
                        pending = true;
                        pendingSince = now;
                        pendingUntil = now + debounceNanos;
                    }
                }
                if (pending && now - pendingUntil >= 0) {
                    pending = false;
                    nextPoll = now + pollNanos;
                    reloadIfChanged();
                }
            } catch (ClosedWatchServiceException | InterruptedException e) {
                if (running) {
                    log.warn("config watcher stopped unexpectedly", e);
                }
                return;
            } catch (RuntimeException e) {
                // a listener's bug must not end live reloading
                log.error("config reload of {} failed", file, e);
            }
        }
    }

    /** Waits up to {@code nanos} for events about the file; true if there was one. */
    private boolean waitForEvents(long nanos) throws InterruptedException {
        WatchService service = watchService;
        if (service == null) {
            stopped.await(nanos, TimeUnit.NANOSECONDS);
            return false;
        }
        WatchKey key = service.poll(nanos, TimeUnit.NANOSECONDS);
        if (key == null) {
            return false;
        }
        boolean relevant = false;
        Path folder = (Path) key.watchable();
        for (WatchEvent<?> event : key.pollEvents()) {
            Object context = event.context();
            // a symlinked file (a Kubernetes ConfigMap) changes when a sibling link is swapped, so any event counts
            relevant |= event.kind() == StandardWatchEventKinds.OVERFLOW
                    || watchingLink
                    || (context instanceof Path name
                            && (folder.resolve(name).equals(absoluteFile)
                                    || folder.resolve(name).equals(domainsFile)));
        }
        if (!key.reset()) {
            log.warn("{} can no longer be watched; checking {} every second instead", folder, file);
            closeWatchService();
        }
        return relevant;
    }

    private void reloadIfChanged() {
        lastState = states();
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(absoluteFile);
        } catch (IOException e) {
            byte[] digest = digest(("unreadable: " + e.getClass().getName()).getBytes(StandardCharsets.UTF_8));
            if (!Arrays.equals(digest, lastDigest)) {
                lastDigest = digest;
                String reason = e instanceof NoSuchFileException ? "it does not exist" : String.valueOf(e.getMessage());
                reject(List.of(new ConfigProblem(file.toString(), 1, 1, "cannot read the file: " + reason)));
            }
            return;
        }
        byte[] digest = digest(bytes, domainsFile);
        if (Arrays.equals(digest, lastDigest)) {
            return;
        }
        lastDigest = digest;
        Path[] named = {null};
        ClickTlsConfig next;
        try {
            next = ConfigLoader.load(file, bytes, path -> named[0] = path);
        } catch (ConfigException e) {
            followDomainsFile(named[0], bytes);
            reject(e.problems());
            return;
        }
        followDomainsFile(named[0], bytes);
        ClickTlsConfig previous = live.get().config();
        if (next.equals(previous)) {
            log.info("config {} changed, but not in meaning; nothing to reload", file);
        } else {
            warnAboutRestart(previous, next);
            try {
                live.replace(next);
            } catch (RuntimeException e) {
                // LiveConfig swaps before it tells its listeners: a listener's failure leaves the new config in force
                if (live.get().config() != next) {
                    throw e;
                }
                log.error("a listener of the config failed after {} was swapped in", file, e);
            }
            log.info(
                    "config {} reloaded: {} domain(s), {} platform(s)",
                    file,
                    next.domains().size(),
                    next.platforms().size());
        }
        listener.accepted(next);
    }

    private void reject(List<ConfigProblem> problems) {
        log.warn(
                "config {} rejected ({} {}); the previous config stays in force",
                file,
                problems.size(),
                problems.size() == 1 ? "problem" : "problems");
        for (String line : ConfigException.reportLines(problems)) {
            log.warn("{}", line);
        }
        listener.rejected(problems);
    }

    private void warnAboutRestart(ClickTlsConfig previous, ClickTlsConfig next) {
        List<String> changes = new ArrayList<>();
        Listen before = previous.listen();
        Listen after = next.listen();
        change(changes, "listen.https", before.https(), after.https());
        change(changes, "listen.http", before.http(), after.http());
        change(changes, "listen.admin", before.admin(), after.admin());
        change(
                changes,
                "storage.directory",
                previous.storage().directory(),
                next.storage().directory());
        // Postgres' toString shows no password.
        change(
                changes,
                "storage.postgres",
                previous.storage().postgres(),
                next.storage().postgres());
        Tuning tuningBefore = previous.tuning();
        Tuning tuningAfter = next.tuning();
        change(changes, "tuning.transport", lower(tuningBefore.transport()), lower(tuningAfter.transport()));
        change(changes, "tuning.event_loops", tuningBefore.eventLoops(), tuningAfter.eventLoops());
        change(changes, "tuning.dns_server", tuningBefore.dnsServer(), tuningAfter.dnsServer());
        change(changes, "node.name", previous.node().name(), next.node().name());
        if (!changes.isEmpty()) {
            log.warn(
                    "config {}: {} {} at restart; until then the node runs as it started",
                    file,
                    String.join(", ", changes),
                    changes.size() == 1 ? "applies" : "apply");
        }
    }

    private static String lower(Enum<?> value) {
        return value.name().toLowerCase(Locale.ROOT);
    }

    private static void change(List<String> changes, String key, Object before, Object after) {
        if (!Objects.equals(before, after)) {
            changes.add(key + " " + before + " -> " + after);
        }
    }

    /** After a read: watch the {@code domains_file} that config named from now on, if it names another one. */
    private void followDomainsFile(Path named, byte[] configBytes) {
        if (Objects.equals(named, domainsFile)) {
            return;
        }
        domainsFile = named;
        lastDigest = digest(configBytes, domainsFile);
        lastState = states();
        watchDirectories();
    }

    /** Registers the folders of the config and the domains file with the watch service, each once. */
    private void watchDirectories() {
        watchingLink = Files.isSymbolicLink(absoluteFile) || (domainsFile != null && Files.isSymbolicLink(domainsFile));
        WatchService service = watchService;
        if (service == null) {
            return;
        }
        List<Path> folders = new ArrayList<>(List.of(directory));
        if (domainsFile != null && domainsFile.getParent() != null) {
            folders.add(domainsFile.getParent());
        }
        for (Path folder : folders) {
            if (watchedDirectories.contains(folder)) {
                continue;
            }
            try {
                folder.register(
                        service,
                        StandardWatchEventKinds.ENTRY_CREATE,
                        StandardWatchEventKinds.ENTRY_MODIFY,
                        StandardWatchEventKinds.ENTRY_DELETE);
                watchedDirectories.add(folder);
            } catch (IOException | UnsupportedOperationException | ClosedWatchServiceException e) {
                // the stat every second still notices changes there
                log.warn("cannot watch {} for changes ({}); checking it every second instead", folder, e.toString());
            }
        }
    }

    private List<FileState> states() {
        return domainsFile == null
                ? List.of(FileState.of(absoluteFile))
                : List.of(FileState.of(absoluteFile), FileState.of(domainsFile));
    }

    private byte[] digestOrNull() {
        try {
            return digest(Files.readAllBytes(absoluteFile), domainsFile);
        } catch (IOException e) {
            return null;
        }
    }

    /** Of the config's bytes and, if there is one, the domains file's (or why it cannot be read). */
    private static byte[] digest(byte[] configBytes, Path domainsFile) {
        MessageDigest digest = sha256();
        digest.update(configBytes);
        if (domainsFile != null) {
            digest.update((byte) 0);
            try {
                digest.update(Files.readAllBytes(domainsFile));
            } catch (IOException e) {
                digest.update(("unreadable: " + e.getClass().getName()).getBytes(StandardCharsets.UTF_8));
            }
        }
        return digest.digest();
    }

    private static byte[] digest(byte[] bytes) {
        return sha256().digest(bytes);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    private void closeWatchService() {
        WatchService service = watchService;
        watchService = null;
        if (service != null) {
            try {
                service.close();
            } catch (IOException e) {
                log.debug("closing the watch service of {}", directory, e);
            }
        }
    }

    /** What a stat says about the file; a change of any part means its bytes may have changed. */
    private record FileState(long modifiedNanos, long size, Object fileKey) {

        static final FileState MISSING = new FileState(-1, -1, null);

        static FileState of(Path file) {
            try {
                BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
                return new FileState(
                        attributes.lastModifiedTime().to(TimeUnit.NANOSECONDS),
                        attributes.size(),
                        attributes.fileKey());
            } catch (IOException e) {
                return MISSING;
            }
        }
    }
}
