package io.clicktls.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A node as a process of its own: {@code io.clicktls.Main run --config FILE} in a new JVM on the test's class path,
 * its output in a log file. For what only a separate process shows: {@code kill -9} (no shutdown hook, no finally),
 * and {@code SIGSTOP}/{@code SIGCONT}, which freeze every thread at once, as a long GC pause or a VM migration does.
 *
 * <p>Not thread-safe: one test drives it.
 */
public final class NodeProcess implements AutoCloseable {

    private static final Duration START_LIMIT = Duration.ofSeconds(60);
    /** What the node logs once its listeners are bound. */
    private static final String SERVING = "clicktls serving https";

    private final Path config;
    private final Path log;
    private Process process;

    private NodeProcess(Path config, Path log) {
        this.config = config;
        this.log = log;
    }

    /** Starts a node from {@code config} and waits until it serves; its output goes to {@code log} (appended). */
    public static NodeProcess start(Path config, Path log) throws Exception {
        NodeProcess node = new NodeProcess(config, log);
        node.start();
        return node;
    }

    /** Starts the node again from the same config (after {@link #kill} or {@link #destroy}). */
    public void start() throws Exception {
        if (process != null && process.isAlive()) {
            throw new IllegalStateException("the node still runs");
        }
        long logged = Files.exists(log) ? Files.size(log) : 0;
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        process = new ProcessBuilder(
                        java,
                        "-Xmx256m",
                        "-cp",
                        System.getProperty("java.class.path"),
                        "io.clicktls.Main",
                        "run",
                        "--config",
                        config.toString())
                .directory(config.getParent().toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
        Process started = process;
        try {
            Eventually.holds(START_LIMIT, "the node process serves https", () -> {
                if (!started.isAlive()) {
                    throw new AssertionError("the node exited with " + started.exitValue() + ":\n" + log());
                }
                return log().substring((int) Math.min(logged, log().length())).contains(SERVING);
            });
        } catch (Exception | Error e) {
            started.destroyForcibly();
            throw e;
        }
    }

    public long pid() {
        return process.pid();
    }

    /** {@code kill -9}: the process ends at once, in the middle of whatever it was doing. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            throw new IllegalStateException("the node did not die of SIGKILL within 10 s");
        }
    }

    /** {@code kill -STOP}: every thread stands still until {@link #resume}. */
    public void pause() throws IOException, InterruptedException {
        LocalServers.signal(process, "-STOP");
    }

    /** {@code kill -CONT}. */
    public void resume() throws IOException, InterruptedException {
        LocalServers.signal(process, "-CONT");
    }

    /** Stops the node as an operator does (SIGTERM, SIGKILL after 3 s); a paused node is resumed first. */
    public void destroy() {
        if (process != null && process.isAlive()) {
            try {
                resume();
            } catch (IOException e) {
                // it is killed below all the same
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            LocalServers.stop(process);
        }
    }

    /** Everything the node has logged, across restarts. */
    public String log() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "";
    }

    @Override
    public void close() {
        destroy();
    }
}
