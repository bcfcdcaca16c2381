package io.clicktls.testing;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A real HAProxy in TCP mode (the L4 load balancer operators put in front of nodes), started as a child process
 * from a config generated for the test: one frontend per {@link Route} on a free loopback port, forwarding to one
 * backend port with the route's server options ({@code send-proxy}, {@code send-proxy-v2}). HAProxy connects to
 * the backend from 127.0.0.1.
 */
public final class TcpBalancer implements AutoCloseable {

    /** A frontend: its name, the backend port on 127.0.0.1, and the options of HAProxy's {@code server} line. */
    public record Route(String name, int backendPort, String serverOptions) {}

    private final Process process;
    private final Path log;
    private final Map<String, Integer> ports;

    private TcpBalancer(Process process, Path log, Map<String, Integer> ports) {
        this.process = process;
        this.log = log;
        this.ports = ports;
    }

    /** Writes {@code haproxy.cfg} into {@code directory}, starts HAProxy and waits until every frontend accepts. */
    public static TcpBalancer start(Path directory, List<Route> routes) throws IOException {
        Map<String, Integer> ports = new LinkedHashMap<>();
        StringBuilder config = new StringBuilder(
                """
                global
                    maxconn 256
                defaults
                    mode tcp
                    timeout connect 5s
                    timeout client 30s
                    timeout server 30s
                """);
        for (Route route : routes) {
            int port = LocalServers.freePort();
            ports.put(route.name(), port);
            config.append("listen ").append(route.name()).append('\n');
            config.append("    bind 127.0.0.1:").append(port).append('\n');
            config.append("    server node 127.0.0.1:")
                    .append(route.backendPort())
                    .append(' ')
                    .append(route.serverOptions())
                    .append('\n');
        }
        Path file = directory.resolve("haproxy.cfg");
        Files.writeString(file, config, StandardCharsets.UTF_8);
        Path log = directory.resolve("haproxy.log");
        Process process = new ProcessBuilder("haproxy", "-db", "-f", file.toString())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        TcpBalancer balancer = new TcpBalancer(process, log, Map.copyOf(ports));
        Eventually.untilAnswers(
                process,
                "haproxy",
                Duration.ofSeconds(15),
                () -> {
                    for (int port : ports.values()) {
                        try (Socket socket = new Socket()) {
                            socket.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                        }
                    }
                    return true;
                },
                () -> Files.readString(log, StandardCharsets.UTF_8));
        return balancer;
    }

    /** The frontend port of the route named {@code name}. */
    public int port(String name) {
        Integer port = ports.get(name);
        if (port == null) {
            throw new IllegalArgumentException("no route " + name + " in " + ports.keySet());
        }
        return port;
    }

    /** What HAProxy has written so far. */
    public String log() throws IOException {
        return Files.readString(log, StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        LocalServers.stop(process);
    }
}
