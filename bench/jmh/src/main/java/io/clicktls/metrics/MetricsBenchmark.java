package io.clicktls.metrics;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/** What the proxy records per request: the request counter by platform and status, and the upstream latency. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class MetricsBenchmark {

    private final Metrics metrics = new Metrics();
    public String platform = "sendgrid";
    public int code = 302;

    @Benchmark
    public void requestCounted() {
        metrics.request(platform, code);
    }

    @Benchmark
    public void upstreamLatencyRecorded() {
        metrics.upstreamLatency(1_500_000);
    }
}
