package io.clicktls.testing;

import io.clicktls.storage.StorageKeys;
import io.clicktls.storage.postgres.PostgresSettings;
import io.clicktls.storage.postgres.PostgresStorage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * Several in-process nodes sharing one PostgreSQL schema, as a cluster runs: each node has its own folder, config
 * file and {@code node.name}, and the same {@code storage.postgres}. The https clients of every node trust the
 * internal CA the first node made in the shared storage. Not thread-safe: a test starts and closes it from its own
 * thread.
 */
public final class NodeCluster implements AutoCloseable {

    private static int schemas;

    private final PostgresServer postgres;
    private final String schema;
    private final Path directory;
    private final List<RunningNode> nodes = new ArrayList<>();

    /** A schema of its own on {@code postgres}; node folders under {@code directory}. */
    public NodeCluster(PostgresServer postgres, Path directory) {
        this.postgres = postgres;
        this.directory = directory;
        synchronized (NodeCluster.class) {
            this.schema = "cluster" + ++schemas;
        }
    }

    /**
     * Starts one node per name, in order (the first makes the internal CA), each from the config {@code shape}
     * makes of a base config that has the shared storage and the node's name.
     */
    public List<RunningNode> start(UnaryOperator<RunningNode.Config> shape, String... names) throws Exception {
        for (String name : names) {
            Path folder = Files.createDirectories(directory.resolve(name));
            RunningNode.Config config = RunningNode.config(folder).postgres(postgres, schema);
            config.set("node.name", name);
            nodes.add(RunningNode.start(shape.apply(config)));
        }
        Path root = directory.resolve("root.pem");
        try (PostgresStorage storage = storage()) {
            storage.load(StorageKeys.CA_ROOT).ifPresent(pem -> write(root, pem));
        }
        if (Files.exists(root)) {
            nodes.forEach(node -> node.trust(root));
        }
        return List.copyOf(nodes);
    }

    /** The shared storage, as an operator would look at it; the caller closes it. */
    public PostgresStorage storage() throws IOException {
        return PostgresStorage.open(
                PostgresSettings.of(postgres.url(), "postgres", null).withSchema(schema));
    }

    private static void write(Path file, byte[] bytes) {
        try {
            Files.write(file, bytes);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        nodes.forEach(RunningNode::close);
        nodes.clear();
    }
}
