package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.clicktls.certificates.IssuanceLimits;
import io.clicktls.testing.ClientHelloProbe;
import io.clicktls.testing.Curl;
import io.clicktls.testing.Eventually;
import io.clicktls.testing.LocalServers;
import io.clicktls.testing.Pebble;
import io.clicktls.testing.PerClass;
import io.clicktls.testing.RunningNode;
import io.clicktls.testing.ScrapedCounts;
import io.clicktls.testing.StandInPlatform;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole node against Pebble while it is attacked as on-demand TLS is in the wild: thousands of random names and
 * certificate-transparency-style subdomain chains, oversized and malformed SNI, from a few client addresses. Also the
 * {@code ask} endpoint going down, a name whose DNS points elsewhere, and a rate limit reached.
 */
class OnDemandAbuseIT {

    private static final int HTTPS_PORT = LocalServers.freePort();
    private static final int HTTP_PORT = LocalServers.freePort();

    @RegisterExtension
    static final PerClass<StandInPlatform> platform = PerClass.of(StandInPlatform::start);

    @RegisterExtension
    static final PerClass<Pebble> pebble = Pebble.builder()
            .httpPort(HTTP_PORT)
            .tlsPort(HTTPS_PORT)
            .authzReusePercent(0)
            .perClass();

    private static HttpServer ask;
    private static final Set<String> allowedByAsk = ConcurrentHashMap.newKeySet();
    private static final AtomicInteger askRequests = new AtomicInteger();
    private static volatile boolean askDown;

    @TempDir
    Path dir;

    private RunningNode node;
    /** The running node's server. */
    private ClickTlsServer server;

    @BeforeAll
    static void startAsk() throws IOException {
        ask = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        ask.setExecutor(Executors.newFixedThreadPool(64));
        ask.createContext("/allow", exchange -> {
            askRequests.incrementAndGet();
            String query = exchange.getRequestURI().getRawQuery();
            String name = query.substring(query.indexOf("domain=") + "domain=".length());
            int status = askDown ? 503 : allowedByAsk.contains(name) ? 200 : 403;
            if (status == 403) {
                sleep(100); // an endpoint that looks names up: floods pile up behind it
            }
            exchange.sendResponseHeaders(status, -1);
            exchange.close();
        });
        ask.start();
    }

    @AfterAll
    static void stopAsk() {
        if (ask != null) {
            ask.stop(0);
        }
    }

    @BeforeEach
    void resetAsk() {
        askDown = false;
        allowedByAsk.clear();
    }

    @AfterEach
    void stopProxy() {
        if (node != null) {
            node.close();
        }
    }

    private ClickTlsServer start(int ordersPer3h, String askAllowTtl) throws Exception {
        node = RunningNode.start(RunningNode.config(dir)
                .listeners(HTTPS_PORT, HTTP_PORT)
                .acme(pebble.get().directoryUrl(), pebble.get().trustedCaFile(), "tls-alpn-01")
                .set("certificates.on_demand.handshake_wait", "10s")
                .set(
                        "certificates.on_demand.ask",
                        "http://127.0.0.1:" + ask.getAddress().getPort() + "/allow")
                .set("certificates.on_demand.ask_cache", "{ allow: " + askAllowTtl + ", deny: 5m }")
                .set("certificates.on_demand.platform", "stand-in")
                .set("certificates.on_demand.expect_dns", "[127.0.0.1]")
                .set("certificates.on_demand.dns_server", pebble.get().dnsServer())
                .set("certificates.on_demand.pending_handshakes", "{ per_client: 16, total: 128 }")
                .set("certificates.limits.orders_per_3h", String.valueOf(ordersPer3h))
                .platform("stand-in", platform.get().port())
                .domains("stand-in", "*.real.test"));
        server = node.server();
        return server;
    }

    @Test
    void aFloodOfUnknownNamesPlacesNoOrderKeepsMemoryFlatAndRealClientsAreServedThroughout() throws Exception {
        start(250, "1h");
        Curl.Result warmUp = get("first.real.test");
        assertThat(warmUp.status()).as(warmUp.stderr()).isEqualTo(200);
        long usualMillis =
                timed(() -> assertThat(get(newName("usual")).status()).isEqualTo(200));
        int ordersBefore = pebble.get().orderCount();
        long heapBefore = heapAfterGc();

        int asksBefore = askRequests.get();
        List<String> flood = floodNames(3000);
        ExecutorService attackers = Executors.newFixedThreadPool(96); // 24 at a time per address
        AtomicInteger refused = new AtomicInteger();
        long floodStart = System.nanoTime();
        List<Future<?>> sent = new ArrayList<>();
        for (int i = 0; i < flood.size(); i++) {
            String name = flood.get(i);
            String source = "127.0.0." + (2 + i % 4);
            sent.add(attackers.submit(() -> {
                if (handshakeRefused(source, name)) {
                    refused.incrementAndGet();
                }
                return null;
            }));
        }
        Eventually.holds(
                Duration.ofSeconds(10), "the flood reaches the ask endpoint", () -> askRequests.get() > asksBefore);
        String real = newName("during");
        long duringMillis = timed(() -> {
            Curl.Result during = get(real);
            assertThat(during.status()).as(during.stderr()).isEqualTo(200);
        });
        for (Future<?> future : sent) {
            future.get(60, TimeUnit.SECONDS);
        }
        long floodMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - floodStart);
        attackers.shutdownNow();
        long heapAfter = heapAfterGc();

        System.out.printf(
                "[abuse] %d flood handshakes from 4 addresses in %d ms, %d refused; first handshake of a"
                        + " configured name: %d ms before the flood, %d ms during it; heap after GC %d MB -> %d MB;"
                        + " refusals %s%n",
                flood.size(),
                floodMillis,
                refused.get(),
                usualMillis,
                duringMillis,
                heapBefore >> 20,
                heapAfter >> 20,
                deniedCounts());
        assertThat(refused.get()).isEqualTo(flood.size());
        assertThat(deniedCounts())
                .as("the bounds on waiting handshakes and asks engaged")
                .containsKeys("too_many_pending", "ask_denied", "invalid_name");
        assertThat(pebble.get().orderCount() - ordersBefore)
                .as("only the real name was ordered")
                .isEqualTo(1);
        String caLog = pebble.get().logText();
        assertThat(flood.stream()
                        .filter(name -> !name.equals(GARBAGE))
                        .filter(caLog::contains)
                        .toList())
                .isEmpty();
        assertThat(duringMillis).isLessThan(Math.max(3 * usualMillis, usualMillis + 3000));
        assertThat(heapAfter - heapBefore).as("heap growth after GC").isLessThan(48L << 20);
    }

    @Test
    void withAskDownNamesItAllowedBeforeKeepWorkingAndUnknownNamesAreRefused() throws Exception {
        start(250, "1s");
        allowedByAsk.add("links.allowed.test");
        assertThat(get("links.allowed.test").status()).isEqualTo(200);
        assertThat(platform.get().last().header("host")).startsWith("links.allowed.test");
        // the point: the allow expires by the wall clock (a TTL of 1 s), which the node reads itself
        Thread.sleep(1200);
        askDown = true;
        int ordersBefore = pebble.get().orderCount();

        Curl.Result known = get("links.allowed.test");
        Curl.Result unknown = get("links.unknown.test");
        server.certificates().forget("links.allowed.test");
        Curl.Result reissued = get("links.allowed.test");

        assertThat(known.status()).as(known.stderr()).isEqualTo(200);
        assertThat(unknown.status())
                .as("no certificate for a name never allowed")
                .isZero();
        assertThat(reissued.status())
                .as("issued again on the stale allow: " + reissued.stderr())
                .isEqualTo(200);
        assertThat(pebble.get().orderCount() - ordersBefore).isEqualTo(1);
        assertThat(deniedCounts()).containsEntry("ask_unavailable", 1.0);
    }

    @Test
    void aNameWhoseDnsPointsElsewhereIsRefusedBeforeAnyOrder() throws Exception {
        start(250, "1h");
        allowedByAsk.add("links.moved.test");
        pebble.get().setCname("links.moved.test", "sendgrid.net");
        pebble.get().addA("sendgrid.net", "10.1.2.3");
        int ordersBefore = pebble.get().orderCount();
        try {
            Curl.Result result = get("links.moved.test");

            assertThat(result.status()).isZero();
            assertThat(pebble.get().orderCount()).isEqualTo(ordersBefore);
            assertThat(pebble.get().logText()).doesNotContain("links.moved.test");
            assertThat(deniedCounts()).containsEntry("dns_elsewhere", 1.0);
        } finally {
            pebble.get().clearCname("links.moved.test");
        }
    }

    @Test
    void aReachedRateLimitHoldsNewOrdersBackWithItsReasonWhileHeldCertificatesKeepServing() throws Exception {
        start(2, "1h");
        String first = newName("limit");
        String second = newName("limit");
        assertThat(get(first).status()).isEqualTo(200);
        assertThat(get(second).status()).isEqualTo(200);
        int ordersBefore = pebble.get().orderCount();

        String third = newName("limit");
        Curl.Result held = get(third);

        assertThat(held.status()).isZero();
        assertThat(pebble.get().orderCount()).isEqualTo(ordersBefore);
        IssuanceLimits.Hold hold = server.policy().hold(third).orElseThrow();
        assertThat(hold.limit()).isEqualTo(IssuanceLimits.ORDERS);
        assertThat(hold.retryAt()).isAfter(Instant.now().plusSeconds(3 * 3600 - 120));
        assertThat(deniedCounts()).containsEntry("rate_limited", 1.0);
        assertThat(get(first).status()).as("a held certificate is served").isEqualTo(200);
        assertThat(get(second).status()).isEqualTo(200);
    }

    // ---- helpers

    private Curl.Result get(String name) throws Exception {
        Path root = dir.resolve("pebble-root.pem");
        if (!Files.exists(root)) {
            Files.writeString(root, pebble.get().rootCertificatePem());
        }
        return Curl.https(root, HTTPS_PORT, name, "/open.gif");
    }

    /** Stands for a connection that sends bytes that are no TLS record at all. */
    private static final String GARBAGE = "(garbage)";

    /** Random names, CT-style chains over real names, names no CA would take and non-TLS bytes, shuffled. */
    private static List<String> floodNames(int count) {
        Random random = new Random(42);
        List<String> names = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            switch (i % 6) {
                case 0, 1 -> names.add(randomLabel(random) + "." + randomLabel(random) + ".com");
                case 2 -> names.add("www.www.links.shop" + i + ".real.test"); // two labels under the wildcard
                case 3 -> names.add("www." + randomLabel(random) + ".first.real.test");
                case 4 -> names.add(
                        i % 12 == 4
                                ? "a".repeat(64) + ".real.test"
                                : i % 24 == 10
                                        ? ("b".repeat(63) + ".").repeat(5) + "test" // 324 characters
                                        : "under_score" + i + ".example.com");
                default -> names.add(
                        i % 12 == 5
                                ? "10.0." + (i % 250) + ".1"
                                : i % 24 == 11 ? GARBAGE : "x" + i + ".ab--cd.example.com");
            }
        }
        java.util.Collections.shuffle(names, random);
        return names;
    }

    private static String randomLabel(Random random) {
        StringBuilder label = new StringBuilder();
        int length = 5 + random.nextInt(10);
        for (int i = 0; i < length; i++) {
            label.append((char) ('a' + random.nextInt(26)));
        }
        return label.toString();
    }

    private static String newName(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8) + ".real.test";
    }

    /**
     * Sends a ClientHello for {@code name} from {@code source} and reads until the proxy closes: true when it answered
     * with an alert (or just closed) rather than a ServerHello.
     */
    private static boolean handshakeRefused(String source, String name) throws IOException {
        byte[] first = name.equals(GARBAGE)
                ? "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII)
                : ClientHelloProbe.clientHello(name);
        return ClientHelloProbe.refused(source, HTTPS_PORT, first, 15_000);
    }

    private Map<String, Double> deniedCounts() {
        return ScrapedCounts.byLabel(server.metrics().scrape(), "clicktls_on_demand_denied_total", "reason");
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static long heapAfterGc() throws InterruptedException {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        for (int i = 0; i < 3; i++) {
            System.gc();
            // no condition says "the heap has settled": a pause between collections lets reference processing and
            // cleaners of the last one finish before the next, as the measurement has always done
            Thread.sleep(100);
        }
        return memory.getHeapMemoryUsage().getUsed();
    }

    private interface Check {
        void run() throws Exception;
    }

    private static long timed(Check check) throws Exception {
        long start = System.nanoTime();
        check.run();
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    }
}
