package io.clicktls.http;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.Domain;
import io.clicktls.config.Platform;
import io.clicktls.config.Upgrade;
import io.clicktls.metrics.Metrics;
import io.clicktls.testing.ConfigInCode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.util.ReferenceCountUtil;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The handler on h2 stream child channels: real h2 frames between a client and a server connection. */
class LinkUpgradeHandlerH2Test {

    private static final String PAGE = "<html><a href=\"http://links.shop.com/ls/click?upn=1\">a</a>"
            + "<a href=\"http://www.shop.com/\">b</a></html>";
    private static final String PAGE_UPGRADED = PAGE.replace("http://links.shop.com/", "https://links.shop.com/");

    private final ConfigSnapshot snapshot = snapshot();
    private final Metrics metrics = new Metrics();
    private final EmbeddedChannel server = new EmbeddedChannel();
    private final EmbeddedChannel client = new EmbeddedChannel();
    private final List<FullHttpResponse> responses = new ArrayList<>();
    private final List<Object> upstreamMessages = new ArrayList<>();
    private final List<Http2Headers> responseHeaders = new ArrayList<>();
    private boolean endedWithData;

    @AfterEach
    void releaseEverything() {
        responses.forEach(ReferenceCountUtil::release);
        server.finishAndReleaseAll();
        client.finishAndReleaseAll();
    }

    @Test
    void aStreamedHtmlBodyOnAnH2StreamIsRewrittenWithoutConnectionHeaders() {
        byte[] page = PAGE.getBytes(UTF_8);
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, "text/html; charset=utf-8")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, page.length);
        int split = PAGE.indexOf("links.shop") + 3;
        upstreamMessages.add(head);
        upstreamMessages.add(new DefaultHttpContent(Unpooled.wrappedBuffer(Arrays.copyOfRange(page, 0, split))));
        upstreamMessages.add(
                new DefaultLastHttpContent(Unpooled.wrappedBuffer(Arrays.copyOfRange(page, split, page.length))));
        startConnection();

        Http2StreamChannel stream = new Http2StreamChannelBootstrap(client)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline()
                                .addLast(
                                        new ChannelInboundHandlerAdapter() {
                                            @Override
                                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                                if (msg instanceof Http2HeadersFrame frame) {
                                                    responseHeaders.add(frame.headers());
                                                } else if (msg instanceof Http2DataFrame frame && frame.isEndStream()) {
                                                    endedWithData = true;
                                                }
                                                ctx.fireChannelRead(msg);
                                            }
                                        },
                                        new Http2StreamFrameToHttpObjectCodec(false),
                                        new HttpObjectAggregator(1 << 16),
                                        new ChannelInboundHandlerAdapter() {
                                            @Override
                                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                                responses.add((FullHttpResponse) msg);
                                            }
                                        });
                    }
                })
                .open()
                .syncUninterruptibly()
                .getNow();
        DefaultFullHttpRequest request =
                new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/uni/prefs", Unpooled.EMPTY_BUFFER);
        request.headers().set(HttpHeaderNames.HOST, "links.shop.com");
        stream.writeAndFlush(request);
        shuttle();

        assertThat(responses).hasSize(1);
        FullHttpResponse response = responses.get(0);
        assertThat(response.status().code()).isEqualTo(200);
        assertThat(responseHeaders).hasSize(1);
        // small enough to be held whole: the exact new length goes with it
        assertThat(responseHeaders.get(0).getInt(HttpHeaderNames.CONTENT_LENGTH))
                .isEqualTo(PAGE_UPGRADED.getBytes(UTF_8).length);
        assertThat(responseHeaders.get(0).contains(HttpHeaderNames.TRANSFER_ENCODING))
                .isFalse();
        assertThat(endedWithData).as("the stream ends with the last DATA frame").isTrue();
        assertThat(response.content().toString(UTF_8)).isEqualTo(PAGE_UPGRADED);
        assertThat(metrics.registry()
                        .find("clicktls.links.upgraded")
                        .tag("kind", "html")
                        .counter()
                        .count())
                .isEqualTo(1);
    }

    private void startConnection() {
        server.pipeline()
                .addLast(
                        Http2FrameCodecBuilder.forServer().build(),
                        new Http2MultiplexHandler(new ChannelInitializer<Channel>() {
                            @Override
                            protected void initChannel(Channel ch) {
                                ch.pipeline()
                                        .addLast(
                                                new Http2StreamFrameToHttpObjectCodec(true),
                                                new LinkUpgradeHandler(
                                                        () -> snapshot,
                                                        "links.shop.com"::equals,
                                                        () -> LinkPorts.STANDARD,
                                                        metrics),
                                                new ChannelInboundHandlerAdapter() {
                                                    @Override
                                                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                                        if (msg instanceof HttpRequest) {
                                                            upstreamMessages.forEach(ctx::write);
                                                            ctx.flush();
                                                        }
                                                        ReferenceCountUtil.release(msg);
                                                    }
                                                });
                            }
                        }));
        client.pipeline()
                .addLast(
                        Http2FrameCodecBuilder.forClient().build(),
                        new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
        shuttle();
    }

    /** Moves bytes both ways until both sides are quiet. */
    private void shuttle() {
        boolean moved = true;
        while (moved) {
            moved = move(client, server) | move(server, client);
            client.runPendingTasks();
            server.runPendingTasks();
        }
    }

    private static boolean move(EmbeddedChannel from, EmbeddedChannel to) {
        boolean moved = false;
        for (Object bytes; (bytes = from.readOutbound()) != null; ) {
            to.writeInbound((ByteBuf) bytes);
            moved = true;
        }
        return moved;
    }

    private static ConfigSnapshot snapshot() {
        Platform platform = new Platform("stand-in", URI.create("http://127.0.0.1:8081"), Platform.HostHeader.PRESERVE);
        return ConfigSnapshot.of(ConfigInCode.internalIssuer(
                Path.of("data"),
                Duration.ofSeconds(10),
                Map.of("stand-in", platform),
                List.of(new Domain("links.shop.com", "stand-in")),
                new Upgrade(Upgrade.HttpMode.REDIRECT, true, true)));
    }
}
