package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ClientTimeoutsTest {

    private final ClientTimeouts.RequestHeaders timeouts =
            new ClientTimeouts.RequestHeaders(Duration.ofSeconds(30), Duration.ofSeconds(60));

    @Test
    void connectionWithoutARequestIsClosedAfterTheFirstDeadline() {
        EmbeddedChannel channel = frozen();

        assertThat(openAfter(channel, 29)).isTrue();
        assertThat(openAfter(channel, 2)).isFalse();
    }

    @Test
    void requestInProgressIsNotCutOffAndTheKeepAliveDeadlineFollowsTheResponse() {
        EmbeddedChannel channel = frozen();
        channel.writeInbound(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/"));

        assertThat(openAfter(channel, 45)).isTrue();

        // 100 Continue is not the end of a response
        channel.writeOutbound(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE));
        assertThat(openAfter(channel, 45)).isTrue();

        channel.writeOutbound(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK));
        assertThat(openAfter(channel, 59)).isTrue();
        assertThat(openAfter(channel, 2)).isFalse();
    }

    @Test
    void pipelinedRequestStillUnansweredKeepsTheConnectionOpen() {
        EmbeddedChannel channel = frozen();
        channel.writeInbound(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/1"));
        channel.writeInbound(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/2"));

        channel.writeOutbound(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK));
        assertThat(openAfter(channel, 120)).isTrue();

        channel.writeOutbound(LastHttpContent.EMPTY_LAST_CONTENT);
        assertThat(openAfter(channel, 61)).isFalse();
    }

    private EmbeddedChannel frozen() {
        EmbeddedChannel channel = new EmbeddedChannel();
        channel.freezeTime();
        channel.pipeline().addLast(timeouts);
        return channel;
    }

    /** Moves the channel's clock on by {@code seconds}, runs what fell due and says whether it is still open. */
    private static boolean openAfter(EmbeddedChannel channel, int seconds) {
        channel.advanceTimeBy(seconds, TimeUnit.SECONDS);
        channel.runScheduledPendingTasks();
        return channel.isOpen();
    }
}
