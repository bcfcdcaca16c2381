package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.testing.Eventually;
import io.clicktls.testing.RunningNode;
import io.clicktls.testing.StandInPlatform;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
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
    private RunningNode.Config config;
    private RunningNode node;
    private final List<Socket> sockets = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        platform = StandInPlatform.start();
        config =
                RunningNode.config(dir).platform("stand-in", platform.port()).domains("stand-in", "links.example.test");
        node = RunningNode.start(config);
    }

    @AfterEach
    void stop() throws IOException {
        for (Socket socket : sockets) {
            socket.close();
        }
        if (node != null) {
            node.close();
        }
        platform.close();
    }

    @Test
    void perClientLimitSetByAReloadAppliesToTheNextConnections() throws Exception {
        assertThat(openHeld(5)).as("no per-client limit by default").isEqualTo(5);

        config.set("limits.max_connections_per_client", "7").replace();
        Eventually.holds(
                Duration.ofSeconds(5),
                "the reload is accepted",
                () -> node.server().metrics().scrape().contains("clicktls_config_reloads_total{result=\"ok\"} 1.0"));

        // the five held before the edit were not counted per client: seven more fit, the eighth does not
        assertThat(openHeld(8)).isEqualTo(7);
        assertThat(node.server().metrics().scrape())
                .contains("clicktls_connections_refused_total{reason=\"max_connections_per_client\"} 1.0")
                .contains("clicktls_connections{listener=\"http\"} 12.0");
    }

    /** Opens {@code count} plain-http connections and says how many the proxy kept open. */
    private int openHeld(int count) throws IOException {
        int held = 0;
        for (int i = 0; i < count; i++) {
            Socket socket = new Socket();
            socket.connect(new InetSocketAddress("127.0.0.1", node.httpPort()), 5000);
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
