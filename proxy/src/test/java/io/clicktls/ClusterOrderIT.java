package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.CertificateStore;
import io.clicktls.storage.StorageKeys;
import io.clicktls.storage.postgres.PostgresSettings;
import io.clicktls.storage.postgres.PostgresStorage;
import io.clicktls.testing.ClientTls;
import io.clicktls.testing.Eventually;
import io.clicktls.testing.LocalServers;
import io.clicktls.testing.NodeProcess;
import io.clicktls.testing.Pebble;
import io.clicktls.testing.PostgresServer;
import io.clicktls.testing.RunningNode;
import io.clicktls.testing.StandInPlatform;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nodes sharing one PostgreSQL (a real server) against a real ACME CA (Pebble): one order per name for the whole
 * cluster. The nodes listen on the same ports on different loopback addresses; Pebble validates at 127.0.0.1 (what
 * its DNS answers for every name), so the node there answers the challenges of orders placed by the others, reading
 * them from the database. Nodes that must be killed or frozen run as processes of their own ({@link NodeProcess}).
 */
class ClusterOrderIT {

    private static final int HTTPS_PORT = LocalServers.freePort();
    private static final int HTTP_PORT = LocalServers.freePort();
    /** Short, so that a dead or frozen holder's lease runs out within the test. */
    private static final Duration LEASE = Duration.ofSeconds(5);

    @TempDir
    static Path shared;

    private static PostgresServer postgres;
    private static Pebble pebble;
    private static StandInPlatform platform;

    @TempDir
    Path dir;

    private final List<AutoCloseable> nodes = new ArrayList<>();
    private PostgresSettings database;

    @BeforeAll
    static void startServers() throws Exception {
        postgres = PostgresServer.start(shared.resolve("pg"));
        platform = StandInPlatform.start();
        pebble = Pebble.builder().httpPort(HTTP_PORT).tlsPort(HTTPS_PORT).start();
    }

    @AfterAll
    static void stopServers() throws Exception {
        for (AutoCloseable server : new AutoCloseable[] {pebble, platform, postgres}) {
            if (server != null) {
                server.close();
            }
        }
    }

    @AfterEach
    void stopNodes() throws Exception {
        for (AutoCloseable node : nodes) {
            if (node instanceof NodeProcess process) {
                System.err.println("log of the node process:\n" + process.log()); // for a failure's report
            }
            node.close();
        }
    }

    /** A node's config: listeners on {@code address}, the test's database, a short lease, ACME over http-01. */
    /** The test's own schema, made on first use. */
    private PostgresSettings database() {
        if (database == null) {
            database = postgres.freshSettings();
        }
        return database;
    }

    private RunningNode.Config config(String folder, String address) throws Exception {
        return RunningNode.config(Files.createDirectories(dir.resolve(folder)))
                .set("listen.https", address + ":" + HTTPS_PORT)
                .set("listen.http", address + ":" + HTTP_PORT)
                .set("listen.admin", address + ":0")
                .postgres(postgres.url(), "postgres", database().schema())
                .set("storage.lease", LEASE.toSeconds() + "s")
                .acme(pebble.directoryUrl(), pebble.trustedCaFile(), "http-01")
                .set("certificates.acme.email", "ops@example.com")
                .set("certificates.on_demand.handshake_wait", "60s")
                .platform("stand-in", platform.port())
                .domains("stand-in", "*.cluster.test");
    }

    private RunningNode inProcess(String folder, String address) throws Exception {
        RunningNode node = RunningNode.start(config(folder, address));
        nodes.add(node);
        return node;
    }

    private NodeProcess process(String folder, String address) throws Exception {
        Path config = config(folder, address).write();
        NodeProcess node = NodeProcess.start(config, dir.resolve(folder).resolve("node.log"));
        nodes.add(node);
        return node;
    }

    /** What the test reads the database with, as another node would. */
    private CertificateStore store() throws Exception {
        PostgresStorage storage = PostgresStorage.open(database());
        nodes.add(storage);
        return new CertificateStore(storage);
    }

    private static String newName() {
        return "n" + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE) + ".cluster.test";
    }

    /**
     * The serial of the certificate the node at {@code address} serves for {@code name}: a full TLS handshake, with
     * a client context of its own (the JDK resumes sessions per address and port, and a resumed session would carry
     * the SNI name of an earlier handshake).
     */
    private static BigInteger servedSerial(String address, String name) throws Exception {
        SSLContext trustingPebble = ClientTls.trusting(pebble.rootCertificate());
        try (SSLSocket socket = (SSLSocket) trustingPebble.getSocketFactory().createSocket(address, HTTPS_PORT)) {
            SSLParameters parameters = socket.getSSLParameters();
            parameters.setServerNames(List.of(new SNIHostName(name)));
            socket.setSSLParameters(parameters);
            socket.setSoTimeout(90_000);
            socket.startHandshake();
            return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
        }
    }

    /** Waits (polling Pebble's log closely) until the CA has one order more than {@code before}. */
    private static void awaitOrderPlaced(int before) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (pebble.orderCount() <= before) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no order was placed within 60 s");
            }
            Thread.sleep(5);
        }
    }

    /** Whether the database holds a lease on ordering {@code name} that has not run out, by the database's clock. */
    private boolean leaseHeld(String name) throws Exception {
        try (Connection connection = postgres.connect();
                PreparedStatement select = connection.prepareStatement(
                        "select count(*) from " + database.schema() + ".lease where name = ? and expires_at > now()")) {
            select.setString(1, StorageKeys.orderLease(name));
            try (ResultSet row = select.executeQuery()) {
                row.next();
                return row.getInt(1) > 0;
            }
        }
    }

    /** What a test does to node A once its order is at the CA. */
    @FunctionalInterface
    private interface MidOrder {
        void act(NodeProcess node) throws Exception;
    }

    /**
     * Node B in this JVM on 127.0.0.1 (where the CA validates, so B answers A's challenges from the database) and node
     * A, a process of its own, on 127.0.0.2, asked for {@code name}; as soon as A's order is at the CA, {@code midOrder}
     * is done to A while Pebble stands still, so that A is surely in the middle of its order.
     *
     * @return node A
     */
    private NodeProcess orderOnNodeA(String name, int ordersBefore, MidOrder midOrder) throws Exception {
        inProcess("b", "127.0.0.1");
        NodeProcess nodeA = process("a", "127.0.0.2");
        ExecutorService client = Executors.newSingleThreadExecutor();
        try {
            client.submit(() -> servedSerial("127.0.0.2", name));
            awaitOrderPlaced(ordersBefore);
            pebble.pause();
            try {
                midOrder.act(nodeA);
            } finally {
                pebble.resume();
            }
        } finally {
            client.shutdownNow();
        }
        return nodeA;
    }

    @Test
    void thirtyConcurrentFirstHandshakesOverThreeNodesPlaceOneOrderAndAllGetTheSameCertificate() throws Exception {
        List<String> addresses = List.of("127.0.0.1", "127.0.0.2", "127.0.0.3");
        for (int i = 0; i < addresses.size(); i++) {
            inProcess("node" + i, addresses.get(i));
        }
        String name = newName();
        int ordersBefore = pebble.orderCount();
        ExecutorService clients = Executors.newFixedThreadPool(30);
        CountDownLatch start = new CountDownLatch(1);
        Set<BigInteger> serials = new HashSet<>();
        try {
            List<Future<BigInteger>> handshakes = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                String address = addresses.get(i % addresses.size());
                handshakes.add(clients.submit(() -> {
                    start.await();
                    return servedSerial(address, name);
                }));
            }
            start.countDown();
            for (Future<BigInteger> handshake : handshakes) {
                serials.add(handshake.get(120, TimeUnit.SECONDS));
            }
        } finally {
            clients.shutdownNow();
        }

        assertThat(serials)
                .as("every handshake served, all with one certificate")
                .hasSize(1);
        assertThat(pebble.orderCount() - ordersBefore).as("orders at the CA").isEqualTo(1);
        assertThat(store().load(name).orElseThrow().leaf().getSerialNumber()).isIn(serials);
    }

    @Test
    void killMinusNineOfTheOrderingNodeLetsAnotherFinishOnceItsLeaseRunsOutAndTheRestartedNodeServesThat()
            throws Exception {
        CertificateStore store = store();
        String name = newName();
        int ordersBefore = pebble.orderCount();

        NodeProcess nodeA = orderOnNodeA(name, ordersBefore, NodeProcess::kill);

        assertThat(leaseHeld(name))
                .as("the dead node's lease, until it runs out")
                .isTrue();
        assertThat(store.load(name)).as("nothing half-written: no entry at all").isEmpty();
        assertThat(store.storage().list(StorageKeys.certificate(name, ""))).isEmpty();

        BigInteger fromB = servedSerial("127.0.0.1", name);

        assertThat(pebble.orderCount() - ordersBefore)
                .as("the dead node's order and node B's")
                .isEqualTo(2);
        CertifiedKey stored = store.load(name).orElseThrow();
        assertThat(stored.leaf().getSerialNumber()).isEqualTo(fromB);
        nodeA.start();
        assertThat(servedSerial("127.0.0.2", name)).isEqualTo(fromB);
        assertThat(pebble.orderCount() - ordersBefore).isEqualTo(2);
    }

    @Test
    void aNodeFrozenPastItsLeaseCannotOverwriteTheCertificateOfTheNodeThatTookOver() throws Exception {
        CertificateStore store = store();
        String name = newName();
        int ordersBefore = pebble.orderCount();
        NodeProcess nodeA = orderOnNodeA(name, ordersBefore, NodeProcess::pause); // SIGSTOP, holding the lease
        Eventually.holds(Duration.ofSeconds(30), "the frozen node's lease runs out", () -> !leaseHeld(name));

        BigInteger fromB = servedSerial("127.0.0.1", name);
        nodeA.resume();

        Eventually.holds(
                Duration.ofSeconds(90),
                "node A, resumed, finishes its order and its write is refused",
                () -> nodeA.log().contains("was not stored: this node's lease"));
        assertThat(pebble.orderCount() - ordersBefore).isEqualTo(2);
        assertThat(store.load(name).orElseThrow().leaf().getSerialNumber())
                .as("node B's certificate stays in storage")
                .isEqualTo(fromB);
        assertThat(servedSerial("127.0.0.2", name))
                .as("node A serves what storage holds")
                .isEqualTo(fromB);
        assertThat(servedSerial("127.0.0.1", name)).isEqualTo(fromB);
        assertThat(nodeA.log()).doesNotContain("PRIVATE KEY");
    }

    @Test
    void renewalsOfOneNameOnTwoNodesAtOncePlaceOneOrderAndBothServeItsCertificate() throws Exception {
        RunningNode nodeA = inProcess("a", "127.0.0.1");
        RunningNode nodeB = inProcess("b", "127.0.0.2");
        String name = newName();
        BigInteger first = servedSerial("127.0.0.1", name);
        assertThat(servedSerial("127.0.0.2", name)).isEqualTo(first);
        int ordersBefore = pebble.orderCount();

        // What each node's renewal scheduler does when the certificate is due; both at once.
        CompletableFuture<CertifiedKey> onA = nodeA.server().certificates().renew(name);
        CompletableFuture<CertifiedKey> onB = nodeB.server().certificates().renew(name);
        BigInteger renewedOnA = onA.get(90, TimeUnit.SECONDS).leaf().getSerialNumber();
        BigInteger renewedOnB = onB.get(90, TimeUnit.SECONDS).leaf().getSerialNumber();

        assertThat(renewedOnA).isNotEqualTo(first).isEqualTo(renewedOnB);
        assertThat(pebble.orderCount() - ordersBefore)
                .as("renewal orders at the CA")
                .isEqualTo(1);
        assertThat(cachedSerial(nodeA, name)).isEqualTo(renewedOnA);
        assertThat(cachedSerial(nodeB, name)).isEqualTo(renewedOnA);
        assertThat(store().load(name).orElseThrow().leaf().getSerialNumber()).isEqualTo(renewedOnA);
    }

    private static BigInteger cachedSerial(RunningNode node, String name) {
        return node.server()
                .certificates()
                .cached(name)
                .map(certified -> certified.leaf().getSerialNumber())
                .orElse(null);
    }
}
