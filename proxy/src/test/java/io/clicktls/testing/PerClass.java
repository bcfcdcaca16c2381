package io.clicktls.testing;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A server or other fixture shared by the tests of a class, registered as {@code @RegisterExtension static final
 * PerClass<StandInPlatform> platform = PerClass.of(StandInPlatform::start);}: started before the class's
 * {@code @BeforeAll} methods, closed after its last test. Fixtures registered this way start in the order they are
 * declared and close in reverse.
 */
public final class PerClass<T extends AutoCloseable> implements BeforeAllCallback, AfterAllCallback {

    /** Starts the fixture. */
    @FunctionalInterface
    public interface Start<T> {
        T start() throws Exception;
    }

    private final Start<T> start;
    private T fixture;

    private PerClass(Start<T> start) {
        this.start = start;
    }

    public static <T extends AutoCloseable> PerClass<T> of(Start<T> start) {
        return new PerClass<>(start);
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        fixture = start.start();
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        if (fixture != null) {
            T started = fixture;
            fixture = null;
            started.close();
        }
    }

    /** The started fixture; fails outside the class's tests. */
    public T get() {
        if (fixture == null) {
            throw new IllegalStateException("the fixture runs only while the test class runs");
        }
        return fixture;
    }
}
