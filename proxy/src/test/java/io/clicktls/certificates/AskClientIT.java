package io.clicktls.certificates;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.clicktls.config.OnDemand;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The ask client against a stub endpoint on loopback whose answers, delays and failures the test sets per name. */
class AskClientIT {

    private static final OnDemand SETTINGS = new OnDemand(
            null,
            Duration.ofSeconds(10),
            Duration.ofMillis(300),
            new OnDemand.AskCache(Duration.ofMinutes(60), Duration.ofMinutes(5)),
            "p",
            List.of(),
            null,
            OnDemand.DEFAULT_PENDING,
            OnDemand.DEFAULT_PREFETCH);

    private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
    private final Map<String, Integer> statuses = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> requests = new ConcurrentHashMap<>();
    private final List<String> queries = java.util.Collections.synchronizedList(new ArrayList<>());
    private volatile int delayMillis;
    private volatile int defaultStatus = 403;
    private HttpServer server;
    private URI endpoint;
    private AskClient client;

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/allow", exchange -> {
            String query = exchange.getRequestURI().getRawQuery();
            queries.add(query);
            String name = query.substring(query.indexOf("domain=") + "domain=".length());
            requests.computeIfAbsent(name, n -> new AtomicInteger()).incrementAndGet();
            sleep(delayMillis); // the point: an endpoint as slow as the test says
            int status = statuses.getOrDefault(name, defaultStatus);
            if (status == 302) {
                exchange.getResponseHeaders().add("Location", "/moved?domain=" + name);
            }
            exchange.sendResponseHeaders(status, -1);
            exchange.close();
        });
        server.createContext("/moved", exchange -> {
            requests.computeIfAbsent("/moved", n -> new AtomicInteger()).incrementAndGet();
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        server.start();
        endpoint = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/allow");
        client = new AskClient(nanos::get, 4, 1000);
    }

    @AfterEach
    void stop() {
        client.close();
        server.stop(0);
    }

    @Test
    void allowsAndDeniesAreCachedForTheirOwnTimes() {
        statuses.put("yes.shop.test", 204);
        statuses.put("no.shop.test", 404);

        assertThat(ask("yes.shop.test")).isEqualTo(AskClient.Verdict.ALLOW);
        assertThat(ask("no.shop.test")).isEqualTo(AskClient.Verdict.DENIED);
        assertThat(ask("yes.shop.test")).isEqualTo(AskClient.Verdict.ALLOW);
        assertThat(ask("no.shop.test")).isEqualTo(AskClient.Verdict.DENIED);
        assertThat(count("yes.shop.test")).isEqualTo(1);
        assertThat(count("no.shop.test")).isEqualTo(1);

        advance(Duration.ofMinutes(6));
        assertThat(client.cached("no.shop.test")).isEqualTo(AskClient.Known.UNKNOWN);
        assertThat(client.cached("yes.shop.test")).isEqualTo(AskClient.Known.ALLOWED);
        ask("no.shop.test");
        ask("yes.shop.test");
        assertThat(count("no.shop.test")).as("deny expired after 5m").isEqualTo(2);
        assertThat(count("yes.shop.test")).as("allow holds for 60m").isEqualTo(1);
    }

    @Test
    void anExpiredAllowStandsInWhileTheEndpointFailsButUnknownNamesAreRefused() {
        statuses.put("known.shop.test", 200);
        ask("known.shop.test");
        advance(Duration.ofMinutes(61));
        assertThat(client.cached("known.shop.test")).isEqualTo(AskClient.Known.STALE_ALLOWED);
        defaultStatus = 503;
        statuses.clear();

        assertThat(ask("known.shop.test")).isEqualTo(AskClient.Verdict.ALLOW);
        assertThat(ask("unknown.shop.test")).isEqualTo(AskClient.Verdict.UNAVAILABLE);
        assertThat(count("known.shop.test")).as("asked again past its TTL").isEqualTo(2);

        server.stop(0);
        assertThat(ask("known.shop.test")).as("endpoint down").isEqualTo(AskClient.Verdict.ALLOW);
        assertThat(ask("other.shop.test")).isEqualTo(AskClient.Verdict.UNAVAILABLE);

        advance(AskClient.STALE_ALLOW_WINDOW);
        assertThat(ask("known.shop.test")).as("stale for more than 24 h").isEqualTo(AskClient.Verdict.UNAVAILABLE);
    }

    @Test
    void aSlowEndpointTimesOutQuicklyAndItsAnswerIsNotCached() {
        statuses.put("slow.shop.test", 200);
        delayMillis = 2000;

        long start = System.nanoTime();
        AskClient.Verdict verdict = ask("slow.shop.test");
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

        assertThat(verdict).isEqualTo(AskClient.Verdict.UNAVAILABLE);
        assertThat(millis).isLessThan(1500);
        assertThat(client.cached("slow.shop.test")).isEqualTo(AskClient.Known.UNKNOWN);
    }

    @Test
    void redirectsAreAnswersNotDirections() {
        statuses.put("moved.shop.test", 302);

        assertThat(ask("moved.shop.test")).isEqualTo(AskClient.Verdict.DENIED);
        assertThat(count("/moved")).isZero();
    }

    @Test
    void concurrentQuestionsAboutOneNameShareOneRequest() {
        statuses.put("burst.shop.test", 200);
        delayMillis = 150;

        List<CompletableFuture<AskClient.Verdict>> answers = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            answers.add(client.ask("burst.shop.test", endpoint, SETTINGS));
        }

        answers.forEach(answer -> assertThat(answer.join()).isEqualTo(AskClient.Verdict.ALLOW));
        assertThat(count("burst.shop.test")).isEqualTo(1);
    }

    @Test
    void beyondTheRequestsInFlightNamesAreRefusedAtOnce() {
        delayMillis = 200;
        List<CompletableFuture<AskClient.Verdict>> first = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            first.add(client.ask("n" + i + ".shop.test", endpoint, SETTINGS));
        }

        CompletableFuture<AskClient.Verdict> fifth = client.ask("n4.shop.test", endpoint, SETTINGS);

        assertThat(fifth).isCompletedWithValue(AskClient.Verdict.BUSY);
        first.forEach(answer -> assertThat(answer.join()).isEqualTo(AskClient.Verdict.DENIED));
        assertThat(ask("n5.shop.test")).as("slots free again").isEqualTo(AskClient.Verdict.DENIED);
    }

    @Test
    void theNameIsAddedToAnExistingQueryAndEncoded() {
        URI withToken = URI.create(endpoint + "?token=x");

        client.ask("xn--caf-dma.shop.test", withToken, SETTINGS).join();

        assertThat(queries).containsExactly("token=x&domain=xn--caf-dma.shop.test");
    }

    @Test
    void anotherEndpointStartsFromAnEmptyCache() {
        statuses.put("a.shop.test", 200);
        ask("a.shop.test");

        client.ask("a.shop.test", URI.create(endpoint + "?v=2"), SETTINGS).join();

        assertThat(count("a.shop.test")).isEqualTo(2);
    }

    private AskClient.Verdict ask(String name) {
        return client.ask(name, endpoint, SETTINGS).join();
    }

    private int count(String name) {
        AtomicInteger count = requests.get(name);
        return count == null ? 0 : count.get();
    }

    private void advance(Duration duration) {
        nanos.addAndGet(duration.toNanos());
    }

    private static void sleep(int millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
