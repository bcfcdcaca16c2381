package io.clicktls.testing;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The setup most integration tests of a whole node share: a {@link StandInPlatform} and a {@link RunningNode} in front
 * of it, started before each test (or by the test) and closed after it, node first. Register it on an instance field with
 * {@code @RegisterExtension}; the config is asked for in {@code beforeEach}, after JUnit has filled the test's
 * {@code @TempDir} fields, so the function may use them.
 *
 * <p>Not thread-safe: JUnit starts and stops it on the test's thread.
 */
public final class StandInNode implements BeforeEachCallback, AfterEachCallback {

    /** The node's config, given the platform that has just started (for its port). */
    @FunctionalInterface
    public interface ConfigFor {
        RunningNode.Config config(StandInPlatform platform) throws Exception;
    }

    private final ConfigFor configFor;
    private StandInPlatform platform;
    private RunningNode node;

    private StandInNode(ConfigFor configFor) {
        this.configFor = configFor;
    }

    /** A node started from {@code configFor}'s config before each test. */
    public static StandInNode startingFrom(ConfigFor configFor) {
        return new StandInNode(configFor);
    }

    /** Nothing started before each test: each test {@link #start(ConfigFor) starts} the node with its own config. */
    public static StandInNode startedByEachTest() {
        return new StandInNode(null);
    }

    @Override
    public void beforeEach(ExtensionContext context) throws Exception {
        if (configFor != null) {
            start(configFor);
        }
    }

    /** Starts the platform and a node from {@code configFor}'s config; they are closed after the test. */
    public RunningNode start(ConfigFor configFor) throws Exception {
        platform = StandInPlatform.start();
        node = RunningNode.start(configFor.config(platform));
        return node;
    }

    @Override
    public void afterEach(ExtensionContext context) {
        if (node != null) {
            node.close();
            node = null;
        }
        if (platform != null) {
            platform.close();
            platform = null;
        }
    }

    /** The node of the running test. */
    public RunningNode node() {
        return node;
    }

    /** The stand-in platform of the running test. */
    public StandInPlatform platform() {
        return platform;
    }
}
