package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.metrics.Metrics;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ErrorResponsesTest {

    @Test
    void decoderFailuresMapToTheirStatus() {
        assertThat(ErrorResponses.forDecoderFailure(new TooLongHttpHeaderException("x")))
                .isEqualTo(ErrorResponses.Failure.HEADERS_TOO_LARGE);
        assertThat(ErrorResponses.forDecoderFailure(new TooLongHttpLineException("x")))
                .isEqualTo(ErrorResponses.Failure.URI_TOO_LONG);
        assertThat(ErrorResponses.forDecoderFailure(new IllegalArgumentException("x")))
                .isEqualTo(ErrorResponses.Failure.MALFORMED_REQUEST);
    }

    @Test
    void everyAnswerIsASmallPlainPageThatClosesTheConnection() {
        for (ErrorResponses.Failure failure : ErrorResponses.Failure.values()) {
            if (failure.status() == null) {
                assertThatThrownBy(() -> ErrorResponses.response(failure)).isInstanceOf(IllegalArgumentException.class);
                continue;
            }
            FullHttpResponse response = ErrorResponses.response(failure);
            assertThat(response.status()).isEqualTo(failure.status());
            assertThat(response.headers().get("content-type")).startsWith("text/plain");
            assertThat(response.headers().get("connection")).isEqualTo("close");
            assertThat(response.headers().getInt("content-length"))
                    .isEqualTo(response.content().readableBytes());
            assertThat(response.content().readableBytes()).isBetween(1, 200);
            response.release();
        }
    }

    @Test
    void sendingAnswersCountsAndCloses() {
        Metrics metrics = new Metrics();
        EmbeddedChannel channel = new EmbeddedChannel(new ChannelInboundHandlerAdapter());
        ChannelHandlerContext ctx = channel.pipeline().firstContext();

        ErrorResponses.send(ctx, ErrorResponses.Failure.UPSTREAM_TIMEOUT, "sendgrid", metrics);

        FullHttpResponse written = channel.readOutbound();
        assertThat(written.status().code()).isEqualTo(504);
        assertThat(written.content().toString(StandardCharsets.US_ASCII)).contains("did not answer");
        written.release();
        assertThat(channel.isOpen()).isFalse();
        assertThat(metrics.scrape()).contains("clicktls_requests_total{code=\"504\",platform=\"sendgrid\"} 1.0");
    }
}
