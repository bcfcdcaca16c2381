package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.ClickTlsServer;
import io.clicktls.config.ConfigLoader;
import io.clicktls.testing.StandInPlatform;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The connection limits follow a live config edit: the next connection is judged by the new ones. */
class ConnectionLimitsReloadIT {

    @TempDir
    Path dir;

    private StandInPlatform platform;
    private ClickTlsServer server;
    private Path configFile;
    private final List<Socket> sockets = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        platform = StandInPlatform.start();
        configFile = dir.resolve("clicktls.yml");
        Files.writeString(configFile, config(""));
        server = ClickTlsServer.start(ConfigLoader.load(configFile), null);
    }

    @AfterEach
    void stop() throws IOException {
        for (Socket socket : sockets) {
            socket.close();
        }
        if (server != null) {
            server.close();
        }
        platform.close();
    }

    private String config(String limits) {
        return """
                listen:
                  https: 127.0.0.1:0
                  http: 127.0.0.1:0
                  admin: 127.0.0.1:0
                storage:
                  directory: data
                platforms:
                  stand-in:
                    upstream: http://127.0.0.1:%d
                domains:
                  - name: links.example.test
                    platform: stand-in
                %s"""
                .formatted(platform.port(), limits);
    }

    @Test
    void perClientLimitSetByAReloadAppliesToTheNextConnections() throws Exception {
        assertThat(openHeld(5)).as("no per-client limit by default").isEqualTo(5);

        Path edit = dir.resolve("clicktls.yml.new");
        Files.writeString(edit, config("limits:\n  max_connections_per_client: 7\n"));
        Files.move(edit, configFile, StandardCopyOption.ATOMIC_MOVE);
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!server.metrics().scrape().contains("clicktls_config_reloads_total{result=\"ok\"} 1.0")) {
            assertThat(System.nanoTime()).as("reload within 5 s").isLessThan(deadline);
            Thread.sleep(50);
        }

        // the five held before the edit were not counted per client: seven more fit, the eighth does not
        assertThat(openHeld(8)).isEqualTo(7);
        assertThat(server.metrics().scrape())
                .contains("clicktls_connections_refused_total{reason=\"max_connections_per_client\"} 1.0")
                .contains("clicktls_connections{listener=\"http\"} 12.0");
    }

    /** Opens {@code count} plain-http connections and says how many the proxy kept open. */
    private int openHeld(int count) throws IOException {
        int held = 0;
        for (int i = 0; i < count; i++) {
            Socket socket = new Socket();
            socket.connect(new InetSocketAddress("127.0.0.1", server.httpPort()), 5000);
            sockets.add(socket);
            socket.setSoTimeout(300);
            try {
                if (socket.getInputStream().read() != -1) {
                    held++; // not expected: nothing was asked
                }
            } catch (SocketTimeoutException stillOpen) {
                held++;
            } catch (IOException reset) {
                // closed at once
            }
        }
        return held;
    }
}
