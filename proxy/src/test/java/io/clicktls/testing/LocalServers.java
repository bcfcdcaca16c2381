package io.clicktls.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** Loopback ports for the local servers that tests start, and stopping the ones that run as child processes. */
public final class LocalServers {

    private LocalServers() {}

    /**
     * Where {@link #freePort()} looks: below the kernel's range of ephemeral ports (the local ports of outgoing
     * connections and of binds to port 0), so that a server restarted on its port (Pebble stopped and started
     * again) never finds it taken by some test's outgoing connection meanwhile; with Linux's default range
     * (32768–60999) that is 20000–32767. Above 20000: the benchmarks' servers start at 18000.
     */
    private static final int LOWEST = 20_000;

    private static final int BELOW = ephemeralRangeStart();

    private static final AtomicInteger NEXT =
            new AtomicInteger(ThreadLocalRandom.current().nextInt(1 << 16));

    /**
     * A port free at the time of the call, for a listener that must be known before its server starts (e.g. the
     * ports Pebble validates against). Another process may take it in between; port 0 is better where it will do.
     * Taken from below the ephemeral range when there is room (see {@link #LOWEST}), else from the kernel.
     */
    public static int freePort() {
        if (BELOW - LOWEST >= 1_000) {
            for (int attempt = 0; attempt < 1_000; attempt++) {
                int port = LOWEST + Math.floorMod(NEXT.getAndIncrement(), BELOW - LOWEST);
                if (bind(port) == port) {
                    return port;
                }
            }
        }
        int port = bind(0);
        if (port < 0) {
            throw new IllegalStateException("no free loopback port");
        }
        return port;
    }

    /** Binds {@code port} on loopback (0: one the kernel picks) and lets it go: the port bound, or -1 if taken. */
    private static int bind(int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(false);
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            return socket.getLocalPort();
        } catch (IOException e) {
            return -1;
        }
    }

    /** The first ephemeral port (Linux: {@code ip_local_port_range}); 0 where it cannot be read (no room below). */
    private static int ephemeralRangeStart() {
        try {
            String range = Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range"))
                    .trim();
            return Integer.parseInt(range.split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** Stops a child process: asks it to end, and kills it when it has not within 3 s. */
    public static void stop(Process process) {
        if (process == null || !process.isAlive()) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(3, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(3, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /** Sends {@code signal} ({@code -STOP}, {@code -CONT}) to a child process with {@code kill}. */
    public static void signal(Process process, String signal) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", signal, Long.toString(process.pid()))
                .inheritIO()
                .start();
        if (kill.waitFor() != 0) {
            throw new IllegalStateException("kill " + signal + " " + process.pid() + " failed");
        }
    }
}
