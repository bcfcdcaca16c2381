package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.metrics.Metrics;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.timeout.ReadTimeoutException;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

class ClientErrorLogTest {

    @Test
    void errorsAClientCanCauseAreSortedByKind() {
        assertThat(ClientErrorLog.kind(new IOException("Connection reset by peer")))
                .isEqualTo("connection");
        assertThat(ClientErrorLog.kind(new ClosedChannelException())).isEqualTo("connection");
        assertThat(ClientErrorLog.kind(new DecoderException(new SSLHandshakeException("bad certificate"))))
                .isEqualTo("tls");
        assertThat(ClientErrorLog.kind(new NotSslRecordException("not an SSL/TLS record")))
                .isEqualTo("tls");
        assertThat(ClientErrorLog.kind(Http2Exception.connectionError(Http2Error.PROTOCOL_ERROR, "header block")))
                .isEqualTo("http2");
        assertThat(ClientErrorLog.kind(Http2Exception.connectionError(Http2Error.ENHANCE_YOUR_CALM, "resets")))
                .isEqualTo("http2");
        assertThat(ClientErrorLog.kind(new TooLongHttpHeaderException("header too long")))
                .isEqualTo("too_long");
        assertThat(ClientErrorLog.kind(new DecoderException("bad chunk"))).isEqualTo("malformed");
        assertThat(ClientErrorLog.kind(ReadTimeoutException.INSTANCE)).isEqualTo("timeout");
        assertThat(Metrics.CLIENT_ERROR_KINDS)
                .contains("connection", "tls", "http2", "too_long", "malformed", "timeout");
    }

    @Test
    void ourOwnBugsAreNotTakenForClientErrorsAlsoWhenNettyWrapsThem() {
        assertThat(ClientErrorLog.kind(new NullPointerException())).isNull();
        assertThat(ClientErrorLog.kind(new IllegalStateException("state"))).isNull();
        assertThat(ClientErrorLog.kind(new DecoderException(new NullPointerException())))
                .as("a decoder (or a handler it called) threw")
                .isNull();
        assertThat(ClientErrorLog.kind(
                        new Http2Exception(Http2Error.INTERNAL_ERROR, "wrapped", new ClassCastException())))
                .isNull();
    }

    @Test
    void messageQuotingClientInputIsCutAndHasNoControlCharacters() {
        String message = ClientErrorLog.message(new DecoderException("bad\r\nforged log line " + "x".repeat(500)));

        assertThat(message)
                .startsWith("DecoderException: bad??forged log line x")
                .doesNotContain("\n");
        assertThat(message.length()).isLessThanOrEqualTo(201);
    }

    @Test
    void anErrorReachingTheEndClosesTheChannelAndIsCountedByKind() {
        Metrics metrics = new Metrics();
        EmbeddedChannel channel =
                new EmbeddedChannel(new ClientErrorLog(metrics, new RateLimitedLog(Duration.ofSeconds(10))));

        channel.pipeline().fireExceptionCaught(new IOException("Connection reset by peer"));

        assertThat(channel.isOpen()).isFalse();
        assertThat(metrics.scrape()).contains("clicktls_client_errors_total{kind=\"connection\"} 1.0");
    }

    @Test
    void anUnexpectedErrorIsCountedApart() {
        Metrics metrics = new Metrics();
        EmbeddedChannel channel =
                new EmbeddedChannel(new ClientErrorLog(metrics, new RateLimitedLog(Duration.ofSeconds(10))));

        channel.pipeline().fireExceptionCaught(new IllegalStateException("a bug"));

        assertThat(channel.isOpen()).isFalse();
        assertThat(metrics.scrape()).contains("clicktls_unexpected_errors_total 1.0");
    }
}
