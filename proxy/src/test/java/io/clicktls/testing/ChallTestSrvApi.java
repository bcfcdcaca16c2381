package io.clicktls.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * The management API of pebble-challtestsrv (the DNS server of Pebble's and of the DNS tests), which sets the records
 * it answers with: {@code POST /add-a}, {@code /set-cname}, {@code /add-caa}... with a small JSON body.
 */
public final class ChallTestSrvApi {

    private static final HttpClient CLIENT =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private ChallTestSrvApi() {}

    /** Posts {@code json} to {@code path}; anything but 200 is an {@link IllegalStateException}. */
    public static void post(int managementPort, String path, String json) {
        try {
            HttpResponse<String> response = CLIENT.send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + managementPort + path))
                            .POST(HttpRequest.BodyPublishers.ofString(json))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 200) {
                throw new IllegalStateException(
                        "POST " + path + " " + json + " -> " + response.statusCode() + " " + response.body());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
