package io.clicktls.http;

import static io.clicktls.testing.ProxyHeaders.at;
import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.config.ConnectionLimits;
import io.clicktls.config.ProxyProtocol;
import io.clicktls.metrics.Metrics;
import io.clicktls.testing.ProxyHeaders;
import io.clicktls.testing.ScrapedCounts;
import io.clicktls.tls.ClientAddress;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The header reader on one connection: what it takes from the header, what it passes on, and when it gives up. */
class ProxyProtocolAdmissionTest {

    private final Metrics metrics = new Metrics();
    private final ConnectionLimiter limiter = new ConnectionLimiter(() -> new ConnectionLimits(100, 1), metrics, 1024);
    private final ProxyProtocolAdmission admission = new ProxyProtocolAdmission(() -> ProxyProtocol.OFF, metrics);

    @Test
    void headerSetsTheClientAddressAndTheBytesBehindItGoOnUntouched() {
        EmbeddedChannel channel = connection();
        byte[] header = ProxyHeaders.v2(at("198.51.100.4", 50000), at("10.0.0.1", 443));

        channel.writeInbound(Unpooled.wrappedBuffer(header, "GET / HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII)));

        assertThat(ClientAddress.of(channel)).isEqualTo(at("198.51.100.4", 50000));
        ByteBuf behind = channel.readInbound();
        assertThat(behind.toString(StandardCharsets.US_ASCII)).isEqualTo("GET / HTTP/1.1\r\n");
        behind.release();
        assertThat(channel.pipeline().get(ProxyProtocolAdmission.DECODER)).isNull();
        assertThat(channel.pipeline().get(ProxyProtocolAdmission.SOURCE)).isNull();
        assertThat(channel.isOpen()).isTrue();
    }

    @Test
    void headerSplitOverTwoReadsIsStillRead() {
        EmbeddedChannel channel = connection();
        byte[] header = ProxyHeaders.v1(at("198.51.100.5", 50001), at("10.0.0.1", 80));

        channel.writeInbound(Unpooled.wrappedBuffer(header, 0, 10));
        assertThat(ClientAddress.of(channel)).as("not yet").isNotEqualTo(at("198.51.100.5", 50001));
        channel.writeInbound(Unpooled.wrappedBuffer(header, 10, header.length - 10));

        assertThat(ClientAddress.of(channel)).isEqualTo(at("198.51.100.5", 50001));
    }

    @Test
    void silentConnectionIsClosedAsATimeoutAfterTheHeaderTimeout() {
        EmbeddedChannel channel = connection();

        channel.advanceTimeBy(ProxyProtocolAdmission.HEADER_TIMEOUT.toMillis() - 1, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        assertThat(channel.isOpen()).isTrue();
        channel.advanceTimeBy(1, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();

        assertThat(channel.isOpen()).isFalse();
        assertThat(clientErrors()).containsEntry("timeout", 1.0);
    }

    @Test
    void somethingElseThanAHeaderIsOneMalformedClientError() {
        EmbeddedChannel binary = connection();
        binary.writeInbound(Unpooled.wrappedBuffer(new byte[1200]));
        binary.finish();
        EmbeddedChannel request = connection();
        request.writeInbound(Unpooled.wrappedBuffer(
                "GET / HTTP/1.1\r\nHost: links.example.test\r\n\r\n".getBytes(StandardCharsets.US_ASCII)));
        request.finish();

        assertThat(binary.isOpen()).isFalse();
        assertThat(request.isOpen()).isFalse();
        assertThat(clientErrors()).as("one per connection").containsEntry("malformed", 2.0);
    }

    @Test
    void secondConnectionOfAClientOverItsLimitIsClosedWhenTheHeaderNamesIt() {
        byte[] header = ProxyHeaders.v1(at("198.51.100.6", 50002), at("10.0.0.1", 80));
        EmbeddedChannel first = connection();
        first.writeInbound(Unpooled.wrappedBuffer(header));
        EmbeddedChannel second = connection();
        second.writeInbound(Unpooled.wrappedBuffer(header, "GET".getBytes(StandardCharsets.US_ASCII)));

        assertThat(first.isOpen()).isTrue();
        assertThat(second.isOpen()).isFalse();
        assertThat((Object) second.readInbound())
                .as("nothing behind the header is read")
                .isNull();
    }

    /** A connection as the https listener builds one for a balancer: the header reader, then the error log. */
    private EmbeddedChannel connection() {
        EmbeddedChannel channel = new EmbeddedChannel();
        channel.freezeTime();
        channel.config().setAutoRead(false);
        admission.expectHeader(channel.pipeline(), limiter);
        channel.pipeline().addLast(ClientErrorLog.NAME, new ClientErrorLog(metrics));
        return channel;
    }

    private java.util.Map<String, Double> clientErrors() {
        return ScrapedCounts.byLabel(metrics.scrape(), "clicktls_client_errors_total", "kind");
    }
}
