package io.clicktls.config;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

class ConfigWatcherTest {

    /** The brief's promise: an edit is in force within 2 s of the write. */
    private static final Duration PICKUP = Duration.ofSeconds(2);

    @TempDir
    Path dir;

    private Path file;
    private LiveConfig live;
    private final BlockingQueue<Outcome> outcomes = new LinkedBlockingQueue<>();
    private ConfigWatcher watcher;
    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    private final Logger watcherLog = (Logger) LoggerFactory.getLogger(ConfigWatcher.class);

    private record Outcome(ClickTlsConfig accepted, List<ConfigProblem> rejected, String thread) {}

    @BeforeEach
    void startWithOneDomain() throws Exception {
        file = dir.resolve("clicktls.yml");
        Files.writeString(file, config("first.example.com", "0.0.0.0:8443"));
        live = new LiveConfig(ConfigLoader.load(file));
        logs.start();
        watcherLog.addAppender(logs);
    }

    @AfterEach
    void stop() {
        if (watcher != null) {
            watcher.close();
        }
        watcherLog.detachAppender(logs);
    }

    @Test
    void editByRenameIsInForceWithinTwoSeconds() throws Exception {
        startWatcher(true);
        Path temporary = dir.resolve(".clicktls.yml.swp");
        Files.writeString(temporary, config("renamed.example.com", "0.0.0.0:8443"));

        Outcome outcome = acceptedWithinPickup(
                () -> Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE));
        assertThat(live.get().domains().serves("renamed.example.com")).isTrue();
        assertThat(live.get().domains().serves("first.example.com")).isFalse();
        assertThat(outcome.thread()).isEqualTo("clicktls-config-watcher");
    }

    @Test
    void inPlaceWriteIsInForceWithinTwoSeconds() throws Exception {
        startWatcher(true);

        acceptedWithinPickup(() -> Files.writeString(file, config("rewritten.example.com", "0.0.0.0:8443")));
        assertThat(live.get().config().domains()).extracting(Domain::name).containsExactly("rewritten.example.com");
    }

    @Test
    void brokenEditKeepsTheOldConfigAndReportsEveryProblemThenTheFixIsPickedUp() throws Exception {
        startWatcher(true);
        ConfigSnapshot before = live.get();

        Files.writeString(file, config("bad..example.com", "0.0.0.0:70000"));
        Outcome rejected = next();

        assertThat(rejected.rejected())
                .extracting(ConfigProblem::toString)
                .containsExactly(
                        file + ":2:10: listen.https: port 70000 (expected: 1-65535 or 0)",
                        file + ":6:11: domains[0].name: 'bad..example.com' has an empty label "
                                + "(expected: a DNS name such as links.example.com, or *.example.com)");
        assertThat(live.get()).isSameAs(before);
        assertThat(warnings())
                .contains(
                        file + ":2:10: listen.https: port 70000 (expected: 1-65535 or 0)",
                        file + ":6:11: domains[0].name: 'bad..example.com' has an empty label "
                                + "(expected: a DNS name such as links.example.com, or *.example.com)");

        Files.writeString(file, config("fixed.example.com", "0.0.0.0:8443"));
        Outcome accepted = next();

        assertThat(accepted.accepted()).isNotNull();
        assertThat(live.get().domains().serves("fixed.example.com")).isTrue();
    }

    @Test
    void editWithTenThousandProblemsLogsTheFirstHundredAndACount() throws Exception {
        startWatcher(true);
        ConfigSnapshot before = live.get();
        StringBuilder yaml = new StringBuilder("platforms:\n  stand-in: { upstream: 'http://127.0.0.1:8081' }\n");
        yaml.append("domains:\n");
        for (int i = 0; i < 10_000; i++) {
            yaml.append("  - { name: 'bad..").append(i).append(".example.com', platform: stand-in }\n");
        }

        Files.writeString(file, yaml);
        Outcome rejected = next();

        assertThat(rejected.rejected()).hasSize(10_000);
        assertThat(live.get()).isSameAs(before);
        List<String> warnings = warnings();
        assertThat(warnings).hasSize(1 + ConfigException.REPORTED_PROBLEMS + 1);
        assertThat(warnings.get(0))
                .isEqualTo("config " + file + " rejected (10000 problems); the previous config stays in force");
        assertThat(warnings.get(1)).startsWith(file + ":4:13: domains[0].name: 'bad..0.example.com'");
        assertThat(warnings).last().isEqualTo("and 9900 more problems");
    }

    @Test
    void anEditOfOnlyTheDomainsFileIsReloadedAndABrokenOneKeepsTheLastGood() throws Exception {
        Path names = dir.resolve("names.txt");
        Files.writeString(names, "# moved out\nfrom-file.example.com\n");
        Files.writeString(file, config("first.example.com", "0.0.0.0:8443") + "domains_file: names.txt\n");
        live = new LiveConfig(ConfigLoader.load(file));
        startWatcher(true);

        Files.writeString(names, "# moved out\nfrom-file.example.com\nadded.example.com stand-in\n");
        assertThat(next().accepted()).isNotNull();
        assertThat(live.get().domains().serves("added.example.com")).isTrue();
        assertThat(live.get().domains().serves("first.example.com")).isTrue();

        ConfigSnapshot good = live.get();
        Files.writeString(names, "from-file.example.com\nbad..example.com\n");
        Outcome rejected = next();
        assertThat(rejected.rejected())
                .extracting(ConfigProblem::toString)
                .containsExactly(dir.resolve("names.txt") + ":2:1: 'bad..example.com' has an empty label"
                        + " (expected: a DNS name such as links.example.com, or *.example.com)");
        assertThat(live.get()).isSameAs(good);

        Files.writeString(names, "fixed.example.com\n");
        assertThat(next().accepted()).isNotNull();
        assertThat(live.get().domains().serves("fixed.example.com")).isTrue();
        assertThat(live.get().domains().serves("added.example.com")).isFalse();
    }

    @Test
    void aDomainsFileNamedByARejectedEditIsWatchedUntilItAppears() throws Exception {
        startWatcher(true);

        Files.writeString(file, config("first.example.com", "0.0.0.0:8443") + "domains_file: later.txt\n");
        assertThat(next().rejected()).isNotNull();
        Files.writeString(dir.resolve("later.txt"), "later.example.com\n");

        assertThat(next().accepted()).isNotNull();
        assertThat(live.get().domains().serves("later.example.com")).isTrue();
    }

    @Test
    void deletedFileIsReportedOnceAndTheConfigStays() throws Exception {
        startWatcher(true);
        ConfigSnapshot before = live.get();

        Files.delete(file);
        Outcome rejected = next();

        assertThat(rejected.rejected())
                .extracting(ConfigProblem::toString)
                .containsExactly(file + ":1:1: cannot read the file: it does not exist");
        assertThat(live.get()).isSameAs(before);
        assertThat(outcomes.poll(1500, TimeUnit.MILLISECONDS))
                .as("reported again")
                .isNull();
    }

    @Test
    void changingListenWarnsOnceThatItNeedsARestart() throws Exception {
        startWatcher(true);

        Files.writeString(file, config("first.example.com", "0.0.0.0:9443"));
        assertThat(next().accepted()).isNotNull();

        assertThat(warnings())
                .filteredOn(w -> w.contains("restart"))
                .containsExactly("config " + file
                        + ": listen.https 0.0.0.0:8443 -> 0.0.0.0:9443 applies at restart;"
                        + " until then the node runs as it started");
        assertThat(live.get().config().listen().https().port()).isEqualTo(9443);
    }

    @Test
    void changingTuningWarnsThatItAppliesAtRestart() throws Exception {
        startWatcher(true);

        Files.writeString(
                file,
                config("first.example.com", "0.0.0.0:8443")
                        + "tuning:\n  transport: nio\n  event_loops: 2\n  dns_server: 127.0.0.1:5353\n");
        assertThat(next().accepted()).isNotNull();

        assertThat(warnings())
                .filteredOn(w -> w.contains("restart"))
                .containsExactly("config " + file + ": tuning.transport auto -> nio, tuning.event_loops 0 -> 2,"
                        + " tuning.dns_server null -> 127.0.0.1:5353 apply at restart;"
                        + " until then the node runs as it started");
        assertThat(live.get().config().tuning().eventLoops()).isEqualTo(2);
    }

    @Test
    void touchingTheFileWithoutChangingItReloadsNothing() throws Exception {
        startWatcher(true);

        Files.setLastModifiedTime(file, FileTime.from(Instant.now().plusSeconds(5)));

        assertThat(outcomes.poll(1500, TimeUnit.MILLISECONDS)).isNull();
    }

    @Test
    void pollingAlonePicksUpAChangeWhenNoEventsArrive() throws Exception {
        startWatcher(false);

        acceptedWithinPickup(() -> Files.writeString(file, config("polled.example.com", "0.0.0.0:8443")));
        assertThat(live.get().domains().serves("polled.example.com")).isTrue();
    }

    @Test
    void aFailingListenerDoesNotEndLiveReloading() throws Exception {
        live.onChange(snapshot -> {
            if (snapshot.domains().serves("boom.example.com")) {
                throw new IllegalStateException("listener bug");
            }
        });
        startWatcher(true);

        Files.writeString(file, config("boom.example.com", "0.0.0.0:8443"));
        assertThat(next().accepted())
                .as("swapped in before the listener failed")
                .isNotNull();
        Files.writeString(file, config("after.example.com", "0.0.0.0:8443"));

        assertThat(next().accepted()).isNotNull();
        assertThat(live.get().domains().serves("after.example.com")).isTrue();
    }

    @Test
    void watcherRunsOnANamedDaemonThreadUntilClosed() throws Exception {
        startWatcher(true);

        assertThat(Thread.getAllStackTraces().keySet())
                .filteredOn(t -> t.getName().equals(ConfigWatcher.THREAD_NAME))
                .singleElement()
                .satisfies(t -> assertThat(t.isDaemon()).isTrue());

        watcher.close();
        watcher = null;

        assertThat(Thread.getAllStackTraces().keySet())
                .noneMatch(t -> t.getName().equals(ConfigWatcher.THREAD_NAME));
    }

    private void startWatcher(boolean useEvents) {
        ConfigWatcher.ReloadListener listener = new ConfigWatcher.ReloadListener() {
            @Override
            public void accepted(ClickTlsConfig config) {
                outcomes.add(new Outcome(config, null, Thread.currentThread().getName()));
            }

            @Override
            public void rejected(List<ConfigProblem> problems) {
                outcomes.add(new Outcome(null, problems, Thread.currentThread().getName()));
            }
        };
        watcher = useEvents
                ? new ConfigWatcher(file, live, listener)
                : new ConfigWatcher(file, live, listener, Duration.ofMillis(200), Duration.ofSeconds(1), false);
        watcher.start();
    }

    /** Makes {@code change} to the file; the reload it causes must be accepted within {@link #PICKUP}. */
    private Outcome acceptedWithinPickup(FileChange change) throws Exception {
        long start = System.nanoTime();
        change.apply();
        Outcome outcome = next();

        assertThat(outcome.accepted()).isNotNull();
        assertThat(elapsedSince(start)).isLessThan(PICKUP);
        return outcome;
    }

    /** An edit of the config file. */
    @FunctionalInterface
    private interface FileChange {
        void apply() throws IOException;
    }

    private Outcome next() throws InterruptedException {
        // generous, so that a loaded machine fails on the elapsed-time assertion with a clear message instead
        Outcome outcome = outcomes.poll(10, TimeUnit.SECONDS);
        assertThat(outcome).as("a reload outcome").isNotNull();
        return outcome;
    }

    private List<String> warnings() {
        synchronized (logs.list) {
            return logs.list.stream()
                    .filter(e -> e.getLevel() == Level.WARN)
                    .map(ILoggingEvent::getFormattedMessage)
                    .collect(Collectors.toList());
        }
    }

    private static Duration elapsedSince(long startNanos) {
        return Duration.ofNanos(System.nanoTime() - startNanos);
    }

    private static String config(String domain, String https) {
        return "listen:\n"
                + "  https: " + https + "\n"
                + "platforms:\n"
                + "  stand-in: { upstream: 'http://127.0.0.1:8081' }\n"
                + "domains:\n"
                + "  - name: " + domain + "\n"
                + "    platform: stand-in\n";
    }
}
