package io.clicktls.testing;

import io.clicktls.storage.StorageKeys;
import io.clicktls.storage.postgres.PostgresSettings;
import io.clicktls.storage.postgres.PostgresStorage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Several in-process nodes sharing one PostgreSQL schema ({@link SharedPostgres}), as a cluster runs: each node has
 * its own folder, config file and {@code node.name}, and the same {@code storage.postgres}. The https clients of
 * every node trust the internal CA the first node made in the shared storage. Registered as
 * {@code @RegisterExtension final NodeCluster cluster = new NodeCluster();}, it stops the nodes after each test.
 * Not thread-safe: a test starts the nodes from its own thread.
 */
public final class NodeCluster implements AfterEachCallback {

    private static final AtomicInteger SCHEMAS = new AtomicInteger();

    private final List<RunningNode> nodes = new ArrayList<>();
    private String schema;
    private Path directory;

    /**
     * Starts one node per name, in order (the first makes the internal CA), each from the config {@code shape}
     * makes of a base config that has the shared storage (a schema new to this call) and the node's name.
     */
    public List<RunningNode> start(UnaryOperator<RunningNode.Config> shape, String... names) throws Exception {
        schema = "cluster" + SCHEMAS.incrementAndGet();
        directory = Files.createTempDirectory("clicktls-" + schema);
        for (String name : names) {
            Path folder = Files.createDirectories(directory.resolve(name));
            RunningNode.Config config = RunningNode.config(folder).postgres(SharedPostgres.server(), schema);
            config.set("node.name", name);
            nodes.add(RunningNode.start(shape.apply(config)));
        }
        try (PostgresStorage storage = storage()) {
            storage.load(StorageKeys.CA_ROOT).ifPresent(pem -> nodes.forEach(node -> node.trust(write(pem))));
        }
        return List.copyOf(nodes);
    }

    /** A folder of the cluster's own for files a test writes (a session, a CA root). */
    public Path directory() {
        return directory;
    }

    /** The shared storage, as an operator would look at it; the caller closes it. */
    public PostgresStorage storage() throws IOException {
        return PostgresStorage.open(settings());
    }

    /** The shared storage as the node named {@code node} opens it (the leases it takes name that node). */
    public PostgresStorage storageAs(String node) throws IOException {
        return PostgresStorage.open(settings().withOwner(node));
    }

    private PostgresSettings settings() {
        return PostgresSettings.of(SharedPostgres.server().url(), "postgres", null)
                .withSchema(schema);
    }

    private Path write(byte[] rootPem) {
        Path root = directory.resolve("root.pem");
        try {
            return Files.write(root, rootPem);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void afterEach(ExtensionContext context) {
        nodes.forEach(RunningNode::close);
        nodes.clear();
    }
}
