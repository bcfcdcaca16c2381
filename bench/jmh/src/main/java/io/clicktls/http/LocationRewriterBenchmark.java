package io.clicktls.http;

import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/** One {@code Location} value per operation: a tracked link upgraded, and a destination link left alone. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class LocationRewriterBenchmark {

    private final Predicate<String> ready = Set.of("links.shop.com", "email.brand.test")::contains;
    public String tracked = "http://links.shop.com/ls/click?upn=u001.2BhQ3zWcLmN8pRt-3D-3D_abcdefghijklmnop";
    public String destination = "https://www.shop.com/collections/new?utm_source=newsletter&utm_medium=email";
    public String untracked = "http://www.shop.com/collections/new?utm_source=newsletter&utm_medium=email";

    @Benchmark
    public String trackedUpgraded() {
        return LocationRewriter.upgrade(tracked, ready, LinkPorts.STANDARD);
    }

    @Benchmark
    public String httpsDestinationLeftAlone() {
        return LocationRewriter.upgrade(destination, ready, LinkPorts.STANDARD);
    }

    @Benchmark
    public String httpDestinationLeftAlone() {
        return LocationRewriter.upgrade(untracked, ready, LinkPorts.STANDARD);
    }
}
