package io.clicktls.testing;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A stand-in ACME CA over plain HTTP, for what Pebble 2.4 cannot show: a directory whose {@code meta} the test sets
 * (profiles, {@code externalAccountRequired}, {@code caaIdentities}), and a newOrder answered with a problem of the
 * test's choice (by default {@code rejectedIdentifier}, or {@code rateLimited} with a Retry-After). It answers nonces
 * and accounts (any account is valid) and records each newOrder request's JWS body. Nothing is ever issued.
 */
public final class AcmeStandIn implements AutoCloseable {

    private final HttpServer server;
    private final String base;
    private final List<String> newOrders = new CopyOnWriteArrayList<>();
    private final String meta;
    private volatile Duration rateLimitRetryAfter;

    private AcmeStandIn(HttpServer server, String meta) {
        this.server = server;
        this.meta = meta;
        this.base = "http://127.0.0.1:" + server.getAddress().getPort();
        server.createContext(
                "/dir",
                exchange -> answer(
                        exchange,
                        200,
                        "{\"newNonce\": \"" + base + "/nonce\", \"newAccount\": \"" + base
                                + "/account\", \"newOrder\": \"" + base + "/order\", \"meta\": " + meta + "}"));
        server.createContext("/nonce", exchange -> answer(exchange, 200, null));
        server.createContext("/account", exchange -> {
            exchange.getRequestBody().readAllBytes();
            exchange.getResponseHeaders().add("Location", base + "/account/1");
            answer(exchange, 201, "{\"status\": \"valid\"}");
        });
        server.createContext("/order", exchange -> {
            newOrders.add(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            exchange.getResponseHeaders().add("Content-Type", "application/problem+json");
            Duration retryAfter = rateLimitRetryAfter;
            if (retryAfter != null) {
                exchange.getResponseHeaders().add("Retry-After", Long.toString(retryAfter.toSeconds()));
                answer(
                        exchange,
                        429,
                        "{\"type\": \"urn:ietf:params:acme:error:rateLimited\", \"detail\": \"too many new orders"
                                + " recently (stand-in)\"}");
            } else {
                answer(
                        exchange,
                        400,
                        "{\"type\": \"urn:ietf:params:acme:error:rejectedIdentifier\", \"detail\": \"stand-in\"}");
            }
        });
        server.start();
    }

    /**
     * Starts on a free loopback port.
     *
     * @param meta the directory's {@code meta} object as JSON, e.g. {@code {"profiles": {"classic": ""}}}
     */
    public static AcmeStandIn start(String meta) throws IOException {
        return new AcmeStandIn(HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0), meta);
    }

    public URI directoryUrl() {
        return URI.create(base + "/dir");
    }

    /** A URL on this server, e.g. for an account location the test stores. */
    public String url(String path) {
        return base + path;
    }

    /** From now on, newOrder answers {@code rateLimited} with this Retry-After (RFC 8555, section 6.6). */
    public void rateLimitNewOrders(Duration retryAfter) {
        this.rateLimitRetryAfter = retryAfter;
    }

    /** The newOrder requests received: their JWS bodies (flattened JSON), in order. */
    public List<String> newOrders() {
        return List.copyOf(newOrders);
    }

    @Override
    public void close() {
        server.stop(0);
    }

    private static void answer(HttpExchange exchange, int status, String json) throws IOException {
        exchange.getResponseHeaders().add("Replay-Nonce", "bm9uY2U" + System.nanoTime());
        exchange.getResponseHeaders().add("Cache-Control", "no-store");
        if (json == null) {
            exchange.sendResponseHeaders(status, -1);
        } else {
            if (!exchange.getResponseHeaders().containsKey("Content-Type")) {
                exchange.getResponseHeaders().add("Content-Type", "application/json");
            }
            byte[] body = json.getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(status, body.length);
            exchange.getResponseBody().write(body);
        }
        exchange.close();
    }
}
