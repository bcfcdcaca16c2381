package io.clicktls.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class StandInPlatformIT {

    @Test
    void bigBodySendsItsHeadBeforeTheBodyIsQueuedAndKeepsTheRestWhileTheClientDoesNotRead() throws Exception {
        int bytes = 96 * 1024 * 1024;
        try (StandInPlatform standIn = StandInPlatform.start();
                Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", standIn.port()), 2000);
            socket.setSoTimeout(2000);
            socket.getOutputStream()
                    .write(("GET /big?bytes=" + bytes + " HTTP/1.1\r\nHost: stand.in\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
            long start = System.nanoTime();
            BufferedReader reader =
                    new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII), 256);
            List<String> head = new ArrayList<>();
            for (String line = reader.readLine(); line != null && !line.isEmpty(); line = reader.readLine()) {
                head.add(line.toLowerCase());
            }
            long headMillis = (System.nanoTime() - start) / 1_000_000;

            assertThat(head).startsWith("http/1.1 200 ok").contains("transfer-encoding: chunked");
            assertThat(headMillis).as("the head is not held back by the body").isLessThan(1000);
            // Nearly all of the body waits in the stand-in: what the client's socket buffers hold is a few MB.
            assertThat(standIn.pendingResponseBytes()).isGreaterThan(bytes - 16L * 1024 * 1024);
            assertThat(standIn.queuedResponseBytes())
                    .as("queued only as the connection takes it")
                    .isLessThan(1024 * 1024);
        }
    }
}
